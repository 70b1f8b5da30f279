import type { LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { RemoteSmoke, RemoteSmokeRequest } from '../app/orchestrator/ports.ts';
import type { CheckOutcome, CliCheck } from '../domain/acceptance.ts';
import {
  BINARY_SMOKE_RESULT_SCHEMA,
  CLI_CHECKS_RESULT_SCHEMA,
  type CliChecksRequest,
  MAX_CHECKS_BUDGET_MS,
  type SmokeRequest,
} from '../verify/isolated-smoke.ts';
import type { BinarySmokeResult } from '../verify/smoke-binary.ts';
import { invokeIsolated } from './isolated-invoke.ts';

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
    const url = await this.presign(req.key);
    const payload: SmokeRequest = {
      url,
      sha256: req.sha256,
      sizeBytes: req.sizeBytes,
      ...(req.timeoutMs !== undefined && { timeoutMs: req.timeoutMs }),
      ...(req.maxOutputBytes !== undefined && { maxOutputBytes: req.maxOutputBytes }),
    };
    return invokeIsolated(this.lambda, this.functionName, payload, BINARY_SMOKE_RESULT_SCHEMA, 'smoke');
  }

  /**
   * Runs acceptance cli checks on the staged binary in the same function (`kind: 'cli-checks'`),
   * in batches whose timeouts add up to at most {@link MAX_CHECKS_BUDGET_MS} (each invocation
   * stays within the function timeout). Returns one outcome per check the function reported.
   */
  async runChecks(
    req: RemoteSmokeRequest & { platform: string; checks: readonly CliCheck[] },
  ): Promise<CheckOutcome[]> {
    const outcomes: CheckOutcome[] = [];
    for (const batch of budgetBatches(req.checks)) {
      const payload: CliChecksRequest = {
        kind: 'cli-checks',
        url: await this.presign(req.key),
        sha256: req.sha256,
        sizeBytes: req.sizeBytes,
        platform: req.platform,
        checks: batch,
        ...(req.maxOutputBytes !== undefined && { maxOutputBytes: req.maxOutputBytes }),
      };
      const r = await invokeIsolated(
        this.lambda,
        this.functionName,
        payload,
        CLI_CHECKS_RESULT_SCHEMA,
        'smoke',
      );
      outcomes.push(...r.outcomes);
    }
    return outcomes;
  }

  private presign(key: string): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.stagingBucket, Key: key }), {
      expiresIn: this.urlTtlSeconds,
    });
  }
}

/** Consecutive groups of checks whose timeouts add up to at most the per-invocation budget. */
export function budgetBatches(checks: readonly CliCheck[]): CliCheck[][] {
  const batches: CliCheck[][] = [];
  let current: CliCheck[] = [];
  let used = 0;
  for (const c of checks) {
    if (current.length > 0 && used + c.timeoutMs > MAX_CHECKS_BUDGET_MS) {
      batches.push(current);
      current = [];
      used = 0;
    }
    current.push(c);
    used += c.timeoutMs;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
