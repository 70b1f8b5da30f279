import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { RemoteSmoke, RemoteSmokeRequest } from '../app/orchestrator/ports.ts';
import { BINARY_SMOKE_RESULT_SCHEMA, type SmokeRequest } from '../verify/isolated-smoke.ts';
import { type BinarySmokeResult, SmokeRunnerError } from '../verify/smoke-binary.ts';

/** Lifetime of the presigned GET handed to the smoke function. */
export const SMOKE_URL_TTL_SECONDS = 120;

/**
 * AWS: runs a binary smoke in the isolated SmokeBinary function (`SMOKE_FUNCTION_NAME`). Presigns
 * a short-lived GET of the staged candidate object (this role may read it; the smoke function's
 * role may not), invokes the function synchronously and validates its answer. A function error,
 * a timeout or an unreadable answer is a {@link SmokeRunnerError}, never a failed candidate.
 */
export class LambdaSmokeRunner implements RemoteSmoke {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly s3: S3Client,
    private readonly functionName: string,
    private readonly stagingBucket: string,
    private readonly urlTtlSeconds = SMOKE_URL_TTL_SECONDS,
  ) {}

  async run(req: RemoteSmokeRequest): Promise<BinarySmokeResult> {
    const url = await getSignedUrl(
      this.s3,
      new GetObjectCommand({ Bucket: this.stagingBucket, Key: req.key }),
      {
        expiresIn: this.urlTtlSeconds,
      },
    );
    const payload: SmokeRequest = {
      url,
      sha256: req.sha256,
      sizeBytes: req.sizeBytes,
      ...(req.timeoutMs !== undefined && { timeoutMs: req.timeoutMs }),
      ...(req.maxOutputBytes !== undefined && { maxOutputBytes: req.maxOutputBytes }),
    };
    let out: InvokeCommandOutput;
    try {
      out = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
      );
    } catch (err) {
      throw new SmokeRunnerError(`invoking the smoke function failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    if (out.FunctionError) {
      let message = '';
      try {
        message = String((JSON.parse(text) as { errorMessage?: unknown }).errorMessage ?? '');
      } catch {
        // not JSON
      }
      throw new SmokeRunnerError(
        `the smoke function failed (${out.FunctionError})${message ? `: ${message.slice(0, 300)}` : ''}`,
      );
    }
    let parsed: ReturnType<typeof BINARY_SMOKE_RESULT_SCHEMA.safeParse>;
    try {
      parsed = BINARY_SMOKE_RESULT_SCHEMA.safeParse(JSON.parse(text));
    } catch {
      throw new SmokeRunnerError('the smoke function answered with no JSON');
    }
    if (!parsed.success) throw new SmokeRunnerError('the smoke function answered with an invalid result');
    return parsed.data;
  }
}
