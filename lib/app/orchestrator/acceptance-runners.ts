import { runCliChecks } from '../../verify/acceptance/cli-runner.ts';
import { runWebChecks } from '../../verify/acceptance/web-runner.ts';
import type { VerifySettings } from './deps.ts';
import type { AcceptanceRunners } from './ports.ts';

/**
 * The gate's own acceptance-check runners (the local stack): cli checks run the verified copy of
 * the binary as the binary smoke does (`VERIFY_SANDBOX`: a network namespace when one works), web
 * checks in the gate's Chromium (`VERIFY_BROWSER`). On AWS VerifyArtifacts uses the isolated check
 * functions instead: model-written code never runs beside the gate's credentials.
 */
export function inProcessAcceptanceRunners(settings: VerifySettings = {}): AcceptanceRunners {
  const smoke = settings.smoke ?? {};
  return {
    cli: (req) =>
      runCliChecks({
        binary: req.path,
        platform: req.entry.platform ?? settings.hostPlatform ?? 'unknown',
        checks: req.checks,
        ...(smoke.sandbox && { sandbox: smoke.sandbox }),
      }),
    web: (req) =>
      runWebChecks({
        dir: req.path,
        entrypoint: req.entry.entrypoint ?? 'index.html',
        checks: req.checks,
        screenshot: req.screenshot,
        ...(smoke.browser !== undefined && { browser: smoke.browser }),
      }),
  };
}
