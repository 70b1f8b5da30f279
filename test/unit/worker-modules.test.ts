import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  NO_SOURCE_RULE,
  type WorkerAssignment,
  WorkerAssignmentSchema,
} from '../../lib/domain/assignment.ts';
import { PROGRESS_SENTENCES } from '../../lib/domain/events.ts';
import {
  AssignmentError,
  manifestRelativePath,
  validateAssignment,
} from '../../worker-image/src/assignment.ts';
import { ConfigError, loadReportTarget, loadWorkerConfig } from '../../worker-image/src/config.ts';
import { commandEnv, holdGoCacheTrim } from '../../worker-image/src/go-env.ts';
import { redact, secretValues, WorkerLog } from '../../worker-image/src/log.ts';
import { ARTIFACT_BUILDER_PROFILE, workerProfileFields } from '../../worker-image/src/profile.ts';
import { implementingStage, runStoreProgress, WORKER_STAGES } from '../../worker-image/src/progress.ts';
import { exitCodeFor, WorkerResultSchema, workerResultKey } from '../../worker-image/src/result.ts';

const RUN = `run_${'a'.repeat(26)}`;
const OTHER_RUN = `run_${'b'.repeat(26)}`;

const baseEnv = {
  RUN_ID: RUN,
  ATTEMPT: '2',
  TABLE_NAME: 'bus-build-runs',
  STAGING_BUCKET: 'bus-build-staging',
  EVIDENCE_BUCKET: 'bus-build-evidence',
  REPO_DIR: '/mnt/repos/template.git',
};

function assignment(overrides: Partial<WorkerAssignment> = {}): WorkerAssignment {
  return {
    runId: RUN,
    taskRef: 'task_x',
    workerId: 'w1',
    attempt: 2,
    maxAttempts: 3,
    branch: `build/20250601/${RUN}`,
    artifactType: 'web',
    spec: {
      title: 'Tip',
      summary: 'Tips',
      requestText: 'a tip calculator',
      artifactType: 'web',
      platforms: [],
      features: [],
      outOfScope: [],
      complexity: 'small',
    },
    platforms: ['linux-amd64', 'darwin-arm64'],
    ...workerProfileFields(),
    ...overrides,
  };
}

describe('worker config (environment contract)', () => {
  it('reads the contract with defaults', () => {
    const config = loadWorkerConfig(baseEnv);
    expect(config).toMatchObject({
      runId: RUN,
      attempt: 2,
      tableName: 'bus-build-runs',
      stagingBucket: 'bus-build-staging',
      evidenceBucket: 'bus-build-evidence',
      repoUrl: '/mnt/repos/template.git',
      coder: 'offline',
      timeoutSeconds: 1500,
      goCache: undefined,
      renderCheck: 'auto',
    });
    expect(config.workDir).toBe(tmpdir());
  });

  it('prefers REPO_URL over REPO_DIR and accepts the optional settings', () => {
    const config = loadWorkerConfig({
      ...baseEnv,
      REPO_URL: 'https://git.example.com/template.git',
      WORK_DIR: '/scratch',
      GOCACHE: '/home/worker/.cache/go-build',
      WORKER_TIMEOUT_SECONDS: '60',
      CODER: 'offline',
      RENDER_CHECK: 'required',
    });
    expect(config).toMatchObject({
      renderCheck: 'required',
      repoUrl: 'https://git.example.com/template.git',
      workDir: '/scratch',
      goCache: '/home/worker/.cache/go-build',
      timeoutSeconds: 60,
    });
  });

  it.each([
    [{ RUN_ID: 'run_1' }, 'RUN_ID'],
    [{ RUN_ID: '' }, 'RUN_ID'],
    [{ ATTEMPT: '0' }, 'ATTEMPT'],
    [{ ATTEMPT: '1.5' }, 'ATTEMPT'],
    [{ ATTEMPT: '100' }, 'ATTEMPT'],
    [{ TABLE_NAME: '' }, 'TABLE_NAME'],
    [{ STAGING_BUCKET: 'Not_A_Bucket' }, 'STAGING_BUCKET'],
    [{ EVIDENCE_BUCKET: undefined }, 'EVIDENCE_BUCKET'],
    [{ REPO_DIR: undefined }, 'REPO_URL or REPO_DIR'],
    [{ REPO_DIR: 'relative/repo.git' }, 'REPO_DIR'],
    [{ REPO_URL: '--upload-pack=evil' }, 'REPO_URL'],
    [{ WORK_DIR: 'tmp' }, 'WORK_DIR'],
    [{ WORKER_TIMEOUT_SECONDS: 'soon' }, 'WORKER_TIMEOUT_SECONDS'],
    [{ CODER: 'shell' }, 'CODER'],
    [{ RENDER_CHECK: 'off' }, 'RENDER_CHECK'],
  ])('rejects %o', (override, message) => {
    expect(() => loadWorkerConfig({ ...baseEnv, ...override })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ ...baseEnv, ...override })).toThrow(message);
  });

  it('knows where to report even when the rest of the configuration is broken', () => {
    expect(loadReportTarget({ ...baseEnv, TABLE_NAME: '', REPO_DIR: '' })).toEqual({
      runId: RUN,
      attempt: 2,
      evidenceBucket: 'bus-build-evidence',
    });
    expect(loadReportTarget({ ...baseEnv, RUN_ID: '../x' })).toBeUndefined();
  });
});

describe('worker assignment validation', () => {
  it('accepts an assignment built from the profile', () => {
    const a = assignment();
    expect(validateAssignment(JSON.parse(JSON.stringify(a)), RUN, 2)).toEqual(a);
  });

  it.each<[string, Partial<WorkerAssignment>]>([
    ['another run', { runId: OTHER_RUN }],
    ['another attempt', { attempt: 1 }],
    ['beyond maxAttempts', { maxAttempts: 1 }],
    ['another run’s branch', { branch: `build/20250601/${OTHER_RUN}` }],
    ['a non-build branch', { branch: 'main' }],
    ['an empty program', { buildCommands: [['']] }],
    ['no build command', { buildCommands: [] }],
    ['a manifest outside dist', { manifestPath: 'artifact-manifest.json' }],
    ['a manifest escaping dist', { manifestPath: 'dist/../go.mod' }],
    ['a type mismatch', { artifactType: 'both' }],
  ])('rejects %s', (_name, override) => {
    expect(() => validateAssignment(assignment(override), RUN, 2)).toThrow(AssignmentError);
  });

  it('rejects unknown fields and non-objects', () => {
    expect(() => validateAssignment({ ...assignment(), shell: 'rm -rf /' }, RUN, 2)).toThrow(AssignmentError);
    expect(() => validateAssignment('{}', RUN, 2)).toThrow(AssignmentError);
  });

  it('maps the manifest path to a path under dist/', () => {
    expect(manifestRelativePath('dist/artifact-manifest.json')).toBe('artifact-manifest.json');
    expect(manifestRelativePath('dist/meta/manifest.json')).toBe('meta/manifest.json');
    expect(() => manifestRelativePath('dist/')).toThrow(AssignmentError);
    expect(() => manifestRelativePath('/dist/a.json')).toThrow(AssignmentError);
  });
});

describe('worker profile', () => {
  it('is a valid part of an assignment and carries the no-source rule', () => {
    expect(WorkerAssignmentSchema.safeParse(assignment()).success).toBe(true);
    expect(ARTIFACT_BUILDER_PROFILE.rules).toContain(NO_SOURCE_RULE);
    expect(ARTIFACT_BUILDER_PROFILE.testCommands).toEqual([
      ['go', 'vet', './...'],
      ['go', 'test', './...'],
    ]);
    expect(ARTIFACT_BUILDER_PROFILE.manifestPath).toBe('dist/artifact-manifest.json');
  });

  it('hands out copies that do not alias the constant', () => {
    const fields = workerProfileFields();
    fields.buildCommands[0]!.push('--evil');
    fields.rules.push('x');
    expect(ARTIFACT_BUILDER_PROFILE.buildCommands[0]).toEqual(['go', 'run', './tools/build']);
    expect(ARTIFACT_BUILDER_PROFILE.rules).not.toContain('x');
  });
});

describe('worker log', () => {
  it('redacts secret-looking environment values and URL credentials', () => {
    const secrets = secretValues({
      AWS_SECRET_ACCESS_KEY: 'abc123secretvalue',
      OPENAI_API_KEY: 'sk-live-0123456789',
      PATH: '/usr/bin:/bin',
      SHORT_TOKEN: 'abc',
    });
    expect(secrets).toEqual(['sk-live-0123456789', 'abc123secretvalue']);
    expect(
      redact('key=abc123secretvalue url=https://user:pw@git.example.com/r.git sk-live-0123456789', secrets),
    ).toBe('key=[redacted] url=https://[redacted]@git.example.com/r.git [redacted]');
  });

  it('stores redacted lines with timestamps and echoes only step lines', () => {
    const echoed: string[] = [];
    const log = new WorkerLog({
      secrets: ['hunter2-secret'],
      echo: (l) => echoed.push(l),
      now: () => new Date('2025-01-01T00:00:00Z'),
    });
    log.line('step one hunter2-secret');
    log.block('output a\noutput b\n');
    expect(log.text()).toBe('2025-01-01T00:00:00.000Z step one [redacted]\n  | output a\n  | output b\n');
    expect(echoed).toEqual(['2025-01-01T00:00:00.000Z step one [redacted]']);
  });

  it('keeps the head and the tail of a long log', () => {
    const log = new WorkerLog({ secrets: [], echo: null, headBytes: 100, tailBytes: 100 });
    for (let i = 0; i < 100; i++) log.block(`line ${String(i).padStart(3, '0')} ${'x'.repeat(10)}`);
    const text = log.text();
    expect(text).toContain('line 000');
    expect(text).toContain('line 099');
    expect(text).not.toContain('line 050');
    expect(text).toMatch(/… \d+ log lines omitted …/);
    expect(Buffer.byteLength(text)).toBeLessThan(300);
  });
});

describe('command environment', () => {
  it('is an allow-list plus the build settings: no credentials reach coder code', () => {
    const env = commandEnv(
      { runId: RUN, artifactType: 'both', platforms: ['linux-amd64', 'windows-amd64'] },
      {
        PATH: '/usr/bin',
        HOME: '/home/worker',
        GOCACHE: '/home/worker/.cache/go-build',
        AWS_SECRET_ACCESS_KEY: 'x',
        AWS_SESSION_TOKEN: 'y',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
        TABLE_NAME: 't',
        OPENAI_API_KEY: 'k',
        GIT_ASKPASS: '/bin/askpass',
      },
    );
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/worker',
      GOCACHE: '/home/worker/.cache/go-build',
      CGO_ENABLED: '0',
      GOPROXY: 'off',
      GOSUMDB: 'off',
      GOTOOLCHAIN: 'local',
      GOTELEMETRY: 'off',
      GIT_TERMINAL_PROMPT: '0',
      ARTIFACT_TYPE: 'both',
      RUN_ID: RUN,
      PLATFORMS: 'linux-amd64 windows-amd64',
    });
  });

  it('leaves PLATFORMS to the template when the assignment has none', () => {
    expect(commandEnv({ runId: RUN, artifactType: 'web', platforms: [] }, {}).PLATFORMS).toBeUndefined();
  });

  describe('go cache trim hold', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'worker-gocache-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('records a fresh trim time in an existing cache', async () => {
      expect(await holdGoCacheTrim(dir, new Date('2030-01-01T00:00:00Z'))).toBe(true);
      expect(await readFile(join(dir, 'trim.txt'), 'utf8')).toBe('1893456000\n');
    });

    it('does nothing without a cache directory', async () => {
      expect(await holdGoCacheTrim(undefined)).toBe(false);
      expect(await holdGoCacheTrim(join(dir, 'missing'))).toBe(false);
    });
  });
});

describe('worker progress', () => {
  it('uses only fixed, customer-safe stages', () => {
    for (const stage of WORKER_STAGES) expect(PROGRESS_SENTENCES[stage]).toBeTruthy();
    expect(implementingStage('web')).toBe('implementing_web');
    expect(implementingStage('binary')).toBe('implementing_binary');
    expect(implementingStage('both')).toBe('implementing');
  });

  it('appends progress events, skips repeats and never fails the build', async () => {
    const appended: unknown[] = [];
    const lines: string[] = [];
    let fail = false;
    const store = {
      appendEvent: async (runId: string, event: unknown) => {
        if (fail) throw Object.assign(new Error('boom'), { name: 'ProvisionedThroughputExceededException' });
        appended.push({ runId, event });
        return {} as never;
      },
    };
    const progress = runStoreProgress(store, RUN, (l) => lines.push(l));
    await progress.post('implementing', 'attempt 1/3');
    await progress.post('implementing');
    fail = true;
    await progress.post('building');
    expect(appended).toEqual([
      {
        runId: RUN,
        event: {
          type: 'bus.build.progress.updated',
          data: { stage: 'implementing', internalDetail: 'attempt 1/3' },
        },
      },
    ]);
    expect(lines).toEqual([
      'progress: implementing',
      'progress: could not record building (ProvisionedThroughputExceededException)',
    ]);
  });

  it('abandons a progress write that hangs', async () => {
    const lines: string[] = [];
    const store = { appendEvent: () => new Promise<never>(() => {}) };
    const progress = runStoreProgress(store, RUN, (l) => lines.push(l), 20);
    await progress.post('building');
    expect(lines).toEqual(['progress: could not record building (ProgressTimeout)']);
  });
});

describe('worker result', () => {
  it('maps results to exit codes', () => {
    expect(exitCodeFor({ ok: true })).toBe(0);
    expect(exitCodeFor({ ok: false, code: 'no_matching_recipe' })).toBe(2);
    for (const code of ['coder_failed', 'build_failed', 'tests_failed', 'internal'] as const) {
      expect(exitCodeFor({ ok: false, code })).toBe(1);
    }
  });

  it('sits next to the worker log and has a strict shape', () => {
    expect(workerResultKey(RUN, 3)).toBe(`runs/${RUN}/3/result.json`);
    expect(() => workerResultKey('../x', 1)).toThrow();
    expect(WorkerResultSchema.safeParse({ ok: false, code: 'timeout' }).success).toBe(false);
    expect(WorkerResultSchema.safeParse({ ok: true, commit: 'a'.repeat(40), extra: 1 }).success).toBe(false);
  });
});
