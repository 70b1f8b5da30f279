import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../../lib/cli/errors.ts';
import { connect, NOT_RUNNING_MESSAGE, resolveTarget, targetEnv, wantsAws } from '../../lib/cli/target.ts';
import {
  type LocalStackInfo,
  readStackInfo,
  removeStackInfo,
  StackInfoError,
  stackInfoPath,
  writeStackInfo,
} from '../../lib/local/stack-info.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-target-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const info = (over: Partial<LocalStackInfo> = {}): LocalStackInfo => ({
  apiUrl: 'http://127.0.0.1:3000',
  previewUrl: 'http://127.0.0.1:3001',
  dynamoEndpoint: 'http://127.0.0.1:4567',
  s3Endpoint: 'http://127.0.0.1:4568',
  sfnEndpoint: 'http://127.0.0.1:4569',
  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:bus-build-run',
  region: 'us-east-1',
  tableName: 'bus-build-runs',
  buckets: { staging: 'bus-build-staging', artifacts: 'bus-build-artifacts', evidence: 'bus-build-evidence' },
  repoDir: join(dir, 'repos', 'template.git'),
  dataDir: dir,
  pid: process.pid,
  startedAt: '2026-11-24T10:00:00.000Z',
  ...over,
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

describe('stack info file', () => {
  it('round-trips, is written with mode 0600 and removed again', async () => {
    const file = await writeStackInfo(dir, info());
    expect(file).toBe(stackInfoPath(dir));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readStackInfo(dir)).toEqual(info());
    await removeStackInfo(dir);
    expect(await readStackInfo(dir)).toBeUndefined();
  });

  it('refuses unknown fields (no secrets sneak in) and invalid files', async () => {
    await expect(writeStackInfo(dir, { ...info(), sessionSecret: 'x' } as LocalStackInfo)).rejects.toThrow();
    await writeFile(stackInfoPath(dir), '{not json');
    await expect(readStackInfo(dir)).rejects.toBeInstanceOf(StackInfoError);
    await writeFile(stackInfoPath(dir), JSON.stringify({ apiUrl: 'x' }));
    await expect(readStackInfo(dir)).rejects.toBeInstanceOf(StackInfoError);
  });

  it('removes the file only for the pid that wrote it when a pid is given', async () => {
    await writeStackInfo(dir, info());
    await removeStackInfo(dir, process.pid + 1);
    expect(await readStackInfo(dir)).toBeDefined();
    await removeStackInfo(dir, process.pid);
    expect(await readStackInfo(dir)).toBeUndefined();
  });
});

describe('resolveTarget', () => {
  it('chooses AWS with --aws or BUS_BUILD_TARGET=aws', () => {
    expect(wantsAws({ env: {}, aws: true })).toBe(true);
    expect(wantsAws({ env: { BUS_BUILD_TARGET: 'AWS' } })).toBe(true);
    expect(wantsAws({ env: { BUS_BUILD_TARGET: 'local' } })).toBe(false);
    expect(wantsAws({ env: {} })).toBe(false);
  });

  it('reads the AWS target from the stack environment names', async () => {
    const target = await resolveTarget({
      env: {
        BUS_BUILD_TARGET: 'aws',
        AWS_REGION: 'eu-north-1',
        TABLE_NAME: 't1',
        STATE_MACHINE_ARN: 'arn:sm',
        EVIDENCE_BUCKET: 'ev',
        REPO_DIR: '/mnt/efs/template.git',
      },
      cwd: dir,
    });
    expect(target).toMatchObject({
      kind: 'aws',
      region: 'eu-north-1',
      tableName: 't1',
      stateMachineArn: 'arn:sm',
      buckets: { evidence: 'ev', staging: 'bus-build-staging' },
      repoDir: '/mnt/efs/template.git',
    });
    expect(targetEnv(target)).toEqual({});
  });

  it('finds a running local stack via DATA_DIR, --data-dir or .data', async () => {
    await writeStackInfo(dir, info());
    const viaEnv = await resolveTarget({ env: { DATA_DIR: dir }, cwd: '/' });
    expect(viaEnv).toMatchObject({ kind: 'local', running: true, dataDir: dir });
    const viaFlag = await resolveTarget({ env: { DATA_DIR: '/nowhere' }, cwd: '/', dataDir: dir });
    expect(viaFlag).toMatchObject({ kind: 'local', running: true });
    await writeStackInfo(join(dir, '.data'), info());
    expect(await resolveTarget({ env: {}, cwd: dir })).toMatchObject({
      running: true,
      dataDir: join(dir, '.data'),
    });
  });

  it('reports a missing file, a dead pid and a broken file as not running', async () => {
    const none = await resolveTarget({ env: { DATA_DIR: dir }, cwd: '/' });
    expect(none).toMatchObject({ kind: 'local', running: false, problem: expect.stringContaining('no ') });

    await writeStackInfo(dir, info({ pid: deadPid() }));
    const dead = await resolveTarget({ env: { DATA_DIR: dir }, cwd: '/' });
    expect(dead).toMatchObject({ running: false, problem: expect.stringContaining('has exited') });
    expect(() => connect(dead, {})).toThrow(CliError);
    expect(() => connect(dead, {})).toThrow(NOT_RUNNING_MESSAGE);

    await writeFile(stackInfoPath(dir), 'garbage');
    expect(await resolveTarget({ env: { DATA_DIR: dir }, cwd: '/' })).toMatchObject({
      running: false,
      problem: expect.stringContaining('not valid JSON'),
    });
  });

  it('points the SDK at the emulators with dummy credentials before connecting', async () => {
    await writeStackInfo(dir, info());
    const target = await resolveTarget({ env: { DATA_DIR: dir }, cwd: '/' });
    const env: NodeJS.ProcessEnv = {
      AWS_PROFILE: 'prod',
      AWS_SESSION_TOKEN: 'tok',
      AWS_ACCESS_KEY_ID: 'AKIAREAL',
      AWS_ENDPOINT_URL_SFN: 'http://stale',
    };
    const conn = connect(target, env);
    expect(env).toEqual({
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4567',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4568',
      AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:4569',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
    expect(conn.tableName).toBe('bus-build-runs');
    expect(conn.repoDir).toBe(info().repoDir);
    expect(conn.starter()).toBeDefined();
  });

  it('refuses to start builds when the local stack has no Step Functions endpoint', async () => {
    await writeStackInfo(dir, info({ sfnEndpoint: undefined, stateMachineArn: undefined }));
    const env: NodeJS.ProcessEnv = { AWS_ENDPOINT_URL_SFN: 'http://stale' };
    const conn = connect(await resolveTarget({ env: { DATA_DIR: dir }, cwd: '/' }), env);
    expect(env.AWS_ENDPOINT_URL_SFN).toBeUndefined();
    expect(() => conn.starter()).toThrow(/without a Step Functions endpoint/);
    expect(JSON.parse(await readFile(stackInfoPath(dir), 'utf8'))).not.toHaveProperty('sfnEndpoint');
  });
});
