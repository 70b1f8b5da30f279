import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  detectEngine,
  ENGINES,
  type Engine,
  imageCommands,
  parseImageArgs,
} from '../../lib/infra/image-build.ts';
import { REPO_ROOT } from '../../lib/infra/paths.ts';

const onPath = (engine: Engine) =>
  spawnSync(engine, ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
const ENGINE = ENGINES.find(onPath);

describe('npm run image: arguments and engine choice', () => {
  it('defaults to an arm64 build of worker-image/Dockerfile from the repository root', () => {
    const opts = parseImageArgs([], {});
    expect(opts).toEqual({ platform: 'linux/arm64', tag: 'bus-build-worker:dev', dryRun: false });
    expect(imageCommands('docker', opts)).toEqual({
      commands: [
        [
          'docker',
          'build',
          '--platform',
          'linux/arm64',
          '-f',
          'worker-image/Dockerfile',
          '-t',
          'bus-build-worker:dev',
          '.',
        ],
      ],
      uri: 'bus-build-worker:dev',
    });
  });

  it('tags and pushes to a repository and names the URI to deploy with', () => {
    const opts = parseImageArgs(
      [
        '--engine',
        'podman',
        '--tag',
        'bus-build-worker:2026-12-07',
        '--push',
        '111111111111.dkr.ecr.eu-west-1.amazonaws.com/bus-build-worker',
      ],
      {},
    );
    const { commands, uri } = imageCommands(opts.engine!, opts);
    expect(uri).toBe('111111111111.dkr.ecr.eu-west-1.amazonaws.com/bus-build-worker:2026-12-07');
    expect(commands.map((c) => c.slice(0, 2))).toEqual([
      ['podman', 'build'],
      ['podman', 'tag'],
      ['podman', 'push'],
    ]);
    expect(commands[2]).toEqual(['podman', 'push', uri]);
  });

  it('takes CONTAINER_ENGINE and refuses bad arguments with the usage', () => {
    expect(parseImageArgs([], { CONTAINER_ENGINE: 'podman' }).engine).toBe('podman');
    expect(parseImageArgs(['--engine', 'docker'], { CONTAINER_ENGINE: 'podman' }).engine).toBe('docker');
    expect(() => parseImageArgs(['--engine', 'buildah'], {})).toThrow(/unknown engine buildah.*\n.*Usage/s);
    expect(() => parseImageArgs(['--platform', 'linux/386'], {})).toThrow(/--platform/);
    expect(() => parseImageArgs(['--tag', 'NoTag'], {})).toThrow(/--tag/);
    expect(() => parseImageArgs(['--push', 'registry/repo:tag'], {})).toThrow(/without a tag/);
    expect(() => parseImageArgs(['--bogus'], {})).toThrow(/Usage/);
  });

  it('picks the first engine that runs, the requested one only, or says why there is none', async () => {
    const only =
      (...present: Engine[]) =>
      async (e: Engine) =>
        present.includes(e);
    expect(await detectEngine(undefined, only('docker', 'podman'))).toEqual({ engine: 'docker' });
    expect(await detectEngine(undefined, only('podman'))).toEqual({ engine: 'podman' });
    expect(await detectEngine('podman', only('docker'))).toEqual({
      reason: expect.stringMatching(/podman was requested/),
    });
    expect(await detectEngine(undefined, only())).toEqual({
      reason: expect.stringMatching(/no container engine.*-c workerImage=<uri>/),
    });
  });

  it('the script exits with the reason when no engine runs here (dry run otherwise)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/image.ts', '--dry-run'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, PATH: ENGINE ? process.env.PATH : '/nonexistent' },
    });
    if (ENGINE) {
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`$ ${ENGINE} build --platform linux/arm64`);
    } else {
      expect(run.status).toBe(3);
      expect(run.stderr).toMatch(/no container engine/);
    }
  });
});

describe.skipIf(!ENGINE)('npm run image with a container engine', () => {
  it('builds the worker image', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bin/image.ts', '--tag', 'bus-build-worker:test'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/image size: \d+\.\d\d GB/);
  }, 1_800_000);
});
if (!ENGINE) {
  console.info(
    'npm run image: real build skipped: neither `docker info` nor `podman info` succeeds on this machine',
  );
}

describe('a prebuilt worker image (-c workerImage=…)', () => {
  it('recognises ECR URIs by tag or digest and leaves other registries alone', async () => {
    const { parseEcrImageUri } = await import('../../lib/infra/worker.ts');
    expect(
      parseEcrImageUri('111111111111.dkr.ecr.eu-west-1.amazonaws.com/bus-build-worker:2026-12-07'),
    ).toEqual({
      account: '111111111111',
      region: 'eu-west-1',
      repository: 'bus-build-worker',
      tagOrDigest: '2026-12-07',
    });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(
      parseEcrImageUri(`111111111111.dkr.ecr.us-east-1.amazonaws.com/team/worker@${digest}`),
    ).toMatchObject({
      repository: 'team/worker',
      tagOrDigest: digest,
    });
    expect(parseEcrImageUri('ghcr.io/busdk/worker:1')).toBeUndefined();
  });

  it('is validated at synth: a URI with a tag or digest', async () => {
    const { stackConfigFromContext } = await import('../../lib/infra/config.ts');
    const ctx = (workerImage: string) => (key: string) =>
      ({ emailFrom: 'no-reply@busdk.com', workerImage })[key as 'emailFrom'];
    expect(stackConfigFromContext(ctx('ghcr.io/busdk/worker:1')).worker.image).toBe('ghcr.io/busdk/worker:1');
    expect(() => stackConfigFromContext(ctx('bus-build-worker'))).toThrow(/worker.image must be/);
    expect(() => stackConfigFromContext(ctx('ghcr.io/busdk/worker'))).toThrow(/tag or digest/);
  });
});
