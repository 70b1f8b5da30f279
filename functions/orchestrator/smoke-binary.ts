import { log } from '../../lib/log.ts';
import { isolatedSmoke } from '../../lib/verify/isolated-smoke.ts';
import type { BinarySmokeResult } from '../../lib/verify/smoke-binary.ts';

/**
 * The SmokeBinary function (lib/infra/smoke-function.ts): runs one candidate binary's `--help`
 * smoke for VerifyArtifacts, isolated from everything else of the stack. It holds no data
 * permissions and can reach only the S3 endpoint (to fetch the presigned object it is given).
 * Input and output: lib/verify/isolated-smoke.ts. Throws only for an invalid request or a failed
 * download (infrastructure); a candidate that fails is a result.
 */
export async function handler(event: unknown): Promise<BinarySmokeResult> {
  const result = await isolatedSmoke(event, { resetEnvironment: true });
  log.info('binary smoke done', { passed: result.passed, attempts: result.attempts.length });
  return result;
}
