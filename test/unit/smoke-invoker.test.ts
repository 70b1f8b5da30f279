import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { LambdaSmokeRunner, SMOKE_URL_TTL_SECONDS } from '../../lib/aws/smoke-invoker.ts';
import { SmokeRequestSchema } from '../../lib/verify/isolated-smoke.ts';
import { type BinarySmokeResult, SmokeRunnerError } from '../../lib/verify/smoke-binary.ts';

const lambda = mockClient(LambdaClient);
afterEach(() => lambda.reset());

/** Presigning is pure signing: static credentials and a region, no network. */
const s3 = new S3Client({
  region: 'eu-north-1',
  credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE', secretAccessKey: 'secret/example/key' },
});
const KEY = 'candidates/run_abcdefghijklmnopqrstuvwxyz/1/bin/tool-linux-arm64';
const SHA = 'a'.repeat(64);
const PASSED: BinarySmokeResult = {
  passed: true,
  problems: [],
  sandbox: 'isolated-lambda',
  attempts: [{ args: ['--help'], exitCode: 0, signal: null, timedOut: false, output: 'usage' }],
};
const encode = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const runner = () =>
  new LambdaSmokeRunner(
    new LambdaClient({ region: 'eu-north-1' }),
    s3,
    'bus-build-test-smoke',
    'staging-bkt',
  );

describe('LambdaSmokeRunner (VerifyArtifacts → SmokeBinary)', () => {
  it('invokes the function synchronously with a short-lived presigned GET of the staged object', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode(PASSED) as never });
    const r = await runner().run({ key: KEY, sha256: SHA, sizeBytes: 1234, timeoutMs: 5_000 });
    expect(r).toEqual(PASSED);
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({ FunctionName: 'bus-build-test-smoke', InvocationType: 'RequestResponse' });
    const payload = SmokeRequestSchema.parse(
      JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)),
    );
    expect(payload).toMatchObject({ sha256: SHA, sizeBytes: 1234, timeoutMs: 5_000 });
    const url = new URL(payload.url);
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toBe('staging-bkt.s3.eu-north-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe(`/${KEY}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(SMOKE_URL_TTL_SECONDS));
    expect(SMOKE_URL_TTL_SECONDS).toBeLessThanOrEqual(300);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a failed candidate is a result', async () => {
    const failed = { ...PASSED, passed: false, problems: ['--help exited 3'] };
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode(failed) as never });
    expect(await runner().run({ key: KEY, sha256: SHA, sizeBytes: 1 })).toEqual(failed);
  });

  it('a function error (crash, timeout) is the runner failing, never a verdict', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({
        errorType: 'Sandbox.Timedout',
        errorMessage: 'Task timed out after 90.00 seconds',
      }) as never,
    });
    const err = await runner()
      .run({ key: KEY, sha256: SHA, sizeBytes: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmokeRunnerError);
    expect((err as Error).message).toMatch(/failed \(Unhandled\): Task timed out/);
    expect((err as { $retryable?: unknown }).$retryable).toBe(true);
  });

  it('an SDK error or an invalid answer is the runner failing too', async () => {
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    await expect(runner().run({ key: KEY, sha256: SHA, sizeBytes: 1 })).rejects.toThrow(SmokeRunnerError);
    lambda.reset();
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode({ passed: 'yes' }) as never });
    await expect(runner().run({ key: KEY, sha256: SHA, sizeBytes: 1 })).rejects.toThrow(/invalid result/);
    lambda.reset();
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode('not json') as never });
    await expect(runner().run({ key: KEY, sha256: SHA, sizeBytes: 1 })).rejects.toThrow(/no JSON/);
  });
});
