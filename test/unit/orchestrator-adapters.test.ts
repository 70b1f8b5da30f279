import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidJsonObjectError, S3ArtifactStore, safeRelative } from '../../lib/aws/artifact-store.ts';
import { SfnExecutionStarter } from '../../lib/aws/execution-starter.ts';
import { ConflictError } from '../../lib/domain/errors.ts';

process.env.LOG_LEVEL = 'silent';

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const BUCKETS = { staging: 'stg', evidence: 'evd', artifacts: 'art' };
/** A GetObject body: a Node stream with the SDK's `transformToString`. */
const body = (text: string) =>
  Object.assign(Readable.from([Buffer.from(text)]), { transformToString: async () => text });
const notFound = (name: string) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 404 } });

let dir: string;
beforeEach(async () => {
  s3.reset();
  sfn.reset();
  dir = await mkdtemp(path.join(tmpdir(), 'orch-adapters-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('safeRelative', () => {
  it.each(['a', 'web/index.html', 'bin/tool-linux-amd64'])('accepts %s', (rel) =>
    expect(safeRelative(rel)).toBe(rel),
  );
  it.each(['', '/etc/passwd', '../x', 'a/../b', 'a//b', './a', 'a\\b', 'C:/x', 'a\0b', 'a\nb'])(
    'refuses %j',
    (rel) => expect(safeRelative(rel)).toBeUndefined(),
  );
});

describe('S3ArtifactStore', () => {
  const store = () => new S3ArtifactStore(new S3Client({ region: 'us-east-1' }), BUCKETS);

  it('reads JSON by bucket role, undefined when missing, an error when not JSON', async () => {
    s3.on(GetObjectCommand, { Bucket: 'evd', Key: 'a.json' }).resolves({
      Body: body('{"ok":true}'),
    } as never);
    s3.on(GetObjectCommand, { Bucket: 'evd', Key: 'missing' }).rejects(notFound('NoSuchKey'));
    s3.on(GetObjectCommand, { Bucket: 'evd', Key: 'bad' }).resolves({ Body: body('{nope') } as never);
    expect(await store().getJson('evidence', 'a.json')).toEqual({ ok: true });
    expect(await store().getJson('evidence', 'missing')).toBeUndefined();
    await expect(store().getJson('evidence', 'bad')).rejects.toBeInstanceOf(InvalidJsonObjectError);
  });

  it('writes JSON and files with content type and sha256 metadata', async () => {
    s3.on(PutObjectCommand).resolves({});
    await store().putJson('staging', 'assignments/x.json', { a: 1 });
    const file = path.join(dir, 'f.bin');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, 'abc'));
    await store().putFile('artifacts', 'runs/x/bin/f', file, {
      contentType: 'application/octet-stream',
      sha256: 'ab'.repeat(32),
      size: 3,
    });
    const calls = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({
      Bucket: 'stg',
      Key: 'assignments/x.json',
      ContentType: 'application/json; charset=utf-8',
    });
    expect(calls[1]).toMatchObject({
      Bucket: 'art',
      Key: 'runs/x/bin/f',
      ContentType: 'application/octet-stream',
      ContentLength: 3,
      Metadata: { sha256: 'ab'.repeat(32) },
      ChecksumSHA256: Buffer.from('ab'.repeat(32), 'hex').toString('base64'),
    });
  });

  it('heads objects (sha256 from metadata), undefined when missing', async () => {
    s3.on(HeadObjectCommand, { Key: 'k' }).resolves({
      ContentLength: 5,
      Metadata: { sha256: 'x' },
      ContentType: 't',
    });
    s3.on(HeadObjectCommand, { Key: 'gone' }).rejects(notFound('NotFound'));
    expect(await store().head('artifacts', 'k')).toEqual({ size: 5, sha256: 'x', contentType: 't' });
    expect(await store().head('artifacts', 'gone')).toBeUndefined();
  });

  it('downloads a prefix across pages and refuses unsafe keys without writing them', async () => {
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      Contents: [
        { Key: 'candidates/r/1/artifact-manifest.json', Size: 2 },
        { Key: 'candidates/r/1/../../../evil', Size: 1 },
        { Key: 'candidates/r/1/dir/', Size: 0 },
      ],
      IsTruncated: true,
      NextContinuationToken: 't2',
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 't2' }).resolves({
      Contents: [{ Key: 'candidates/r/1/web/index.html', Size: 4 }],
      IsTruncated: false,
    });
    s3.on(GetObjectCommand, { Key: 'candidates/r/1/artifact-manifest.json' }).callsFake(() => ({
      Body: body('{}'),
    }));
    s3.on(GetObjectCommand, { Key: 'candidates/r/1/web/index.html' }).callsFake(() => ({
      Body: body('<h1>'),
    }));
    const res = await store().downloadPrefix('staging', 'candidates/r/1/', path.join(dir, 'c'));
    expect(res).toEqual({ files: 2, bytes: 6, rejected: ['candidates/r/1/../../../evil'], overLimit: false });
    expect(await readFile(path.join(dir, 'c', 'web', 'index.html'), 'utf8')).toBe('<h1>');
    expect((await readdir(dir)).sort()).toEqual(['c']);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
  });

  it('stops before downloading when the listing is over the limits', async () => {
    s3.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: 'p/a', Size: 10 },
        { Key: 'p/b', Size: 10 },
      ],
    });
    const res = await store().downloadPrefix('staging', 'p/', dir, { maxFiles: 10, maxBytes: 15 });
    expect(res.overLimit).toBe(true);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
  });
});

describe('SfnExecutionStarter', () => {
  const starter = () =>
    new SfnExecutionStarter(
      new SFNClient({ region: 'us-east-1' }),
      'arn:aws:states:us-east-1:1:stateMachine:build',
    );

  it('starts an execution by name with the run id as input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    expect(await starter().start('run_x', { runId: 'run_x' })).toEqual({ started: true });
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:1:stateMachine:build',
      name: 'run_x',
      input: '{"runId":"run_x"}',
    });
  });

  it('maps ExecutionAlreadyExists to started: false', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await starter().start('run_x', { runId: 'run_x' })).toEqual({ started: false });
  });

  it('treats the idempotent answer for a running execution (old startDate) as already started', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date(Date.now() - 60_000) });
    expect(await starter().start('run_x', { runId: 'run_x' })).toEqual({ started: false });
  });

  it('propagates other errors', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(starter().start('run_x', { runId: 'run_x' })).rejects.toThrow('denied');
  });
});

describe('task handler wrapper', () => {
  it('rejects an invalid state and maps conflicts to TransientError', async () => {
    const { setOrchestratorDeps } = await import('../../functions/orchestrator/deps.ts');
    const { isTransient, taskHandler } = await import('../../functions/orchestrator/task.ts');
    setOrchestratorDeps({} as never);
    const ok = taskHandler('X', async (_d, s) => ({ ...s, passed: true }));
    const run = 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa';
    expect(await ok({ runId: run })).toEqual({ runId: run, attempt: 0, maxAttempts: 3, passed: true });
    await expect(ok({ runId: 'nope' })).rejects.toMatchObject({ name: 'InvalidStateError' });
    await expect(ok('not an object')).rejects.toMatchObject({ name: 'InvalidStateError' });
    const conflict = taskHandler('X', async () => {
      throw new ConflictError();
    });
    await expect(conflict({ runId: run })).rejects.toMatchObject({ name: 'TransientError' });
    const fatal = taskHandler('X', async () => {
      throw Object.assign(new Error('bad'), { name: 'TaskStateError' });
    });
    await expect(fatal({ runId: run })).rejects.toMatchObject({ name: 'TaskStateError' });
    expect(isTransient(Object.assign(new Error(), { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isTransient(Object.assign(new Error(), { name: 'ThrottlingException' }))).toBe(true);
    expect(isTransient(new Error('x'))).toBe(false);
    setOrchestratorDeps(undefined);
  });

  it('every LAMBDA_TASKS entry exports a handler', async () => {
    const { LAMBDA_TASKS } = await import('../../state-machines/tasks.ts');
    for (const t of LAMBDA_TASKS) {
      const mod = (await import(/* @vite-ignore */ pathToFileURL(path.resolve(t.entry)).href)) as {
        handler?: unknown;
      };
      expect(typeof mod.handler, t.entry).toBe('function');
    }
  });
});
