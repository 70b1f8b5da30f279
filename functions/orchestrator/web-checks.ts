import { log } from '../../lib/log.ts';
import { type IsolatedWebChecksResult, isolatedWebChecks } from '../../lib/verify/isolated-web-checks.ts';

/**
 * The WebChecks function (lib/infra/web-check-function.ts): renders one staged web artifact and
 * runs the approved web acceptance checks on it in Chromium for Lambda (@sparticuz/chromium,
 * x86_64), isolated from everything else of the stack: no data permissions, egress only HTTPS to
 * the S3 endpoint (to fetch the presigned files it is given). Input and output:
 * lib/verify/isolated-web-checks.ts. Throws only for an invalid request or a failed download.
 */
export async function handler(event: unknown): Promise<IsolatedWebChecksResult> {
  const result = await isolatedWebChecks(event, {
    resetEnvironment: true,
    browser: async () => {
      const chromium = (await import('@sparticuz/chromium')).default;
      return { executablePath: await chromium.executablePath(), args: chromium.args };
    },
  });
  log.info('web checks done', {
    refused: result.refused !== undefined,
    render: result.render?.status,
    checks: result.web.outcomes.length,
    passed: result.web.outcomes.filter((o) => o.passed).length,
  });
  return result;
}
