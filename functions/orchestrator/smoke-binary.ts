import { log } from '../../lib/log.ts';
import { type CliChecksResult, isolatedCliChecks, isolatedSmoke } from '../../lib/verify/isolated-smoke.ts';
import type { BinarySmokeResult } from '../../lib/verify/smoke-binary.ts';

/**
 * The SmokeBinary function (lib/infra/state-machine.ts): runs one candidate binary for
 * VerifyArtifacts, isolated from everything else of the stack: its `--help` smoke, or (a request
 * with `kind: 'cli-checks'`) the approved acceptance cli checks. It holds no data permissions and
 * can reach only the S3 endpoint (to fetch the presigned object it is given). Input and output:
 * lib/verify/isolated-smoke.ts. Throws only for an invalid request or a failed download
 * (infrastructure); a candidate that fails is a result.
 */
export async function handler(event: unknown): Promise<BinarySmokeResult | CliChecksResult> {
  if ((event as { kind?: unknown } | null)?.kind === 'cli-checks') {
    const result = await isolatedCliChecks(event, { resetEnvironment: true });
    log.info('cli checks done', {
      checks: result.outcomes.length,
      passed: result.outcomes.filter((o) => o.passed).length,
    });
    return result;
  }
  const result = await isolatedSmoke(event, { resetEnvironment: true });
  log.info('binary smoke done', { passed: result.passed, attempts: result.attempts.length });
  return result;
}
