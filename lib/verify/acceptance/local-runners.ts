import type { AcceptanceRunners } from '../../app/orchestrator/ports.ts';
import { runCliChecks } from './cli-runner.ts';
import { runWebChecks } from './web-runner.ts';

/**
 * The local stack's acceptance runners: the gate's own sandbox (network namespace) for cli checks
 * and its own Chromium (`VERIFY_BROWSER` / auto-detect) for web checks, on its verified copy.
 */
export function localAcceptanceRunners(
  opts: { sandbox?: 'auto' | 'none'; browser?: string | false } = {},
): AcceptanceRunners {
  return {
    cli: (req) =>
      runCliChecks({
        binary: req.path,
        platform: req.entry.platform ?? 'unknown',
        checks: req.checks,
        ...(opts.sandbox && { sandbox: opts.sandbox }),
      }),
    web: (req) =>
      runWebChecks({
        dir: req.path,
        entrypoint: req.entry.entrypoint ?? 'index.html',
        checks: req.checks,
        screenshot: req.screenshot,
        ...(opts.browser !== undefined && { browser: opts.browser }),
      }),
  };
}
