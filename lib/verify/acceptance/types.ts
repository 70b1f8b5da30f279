import type { CheckOutcome, CliCheck, WebCheck } from '../../domain/acceptance.ts';

/**
 * The ports of the acceptance-check runners (lib/domain/acceptance.ts): the gate, the isolated AWS
 * functions and the coder's self-check all run checks through these, so a check means the same
 * wherever it runs. A runner throws only for its own faults (no browser, the sandbox failed);
 * a tool that fails a check is an outcome with `passed: false` and an internal `detail`.
 */

export interface CliChecksInput {
  /** The binary to run (a verified copy the worker can no longer change). */
  binary: string;
  /** Its platform (`linux-amd64`…), recorded as each outcome's `ranOn`. */
  platform: string;
  checks: readonly CliCheck[];
  /** `auto` (default): a network namespace when one works; `none`: never try one. */
  sandbox?: 'auto' | 'none';
  /** Cap per stream (default 64 KiB). */
  maxOutputBytes?: number;
  /** Run the binary as this unprivileged user (the coder's self-check under `COMMAND_USER`). */
  runAs?: { uid: number; gid: number };
}

export type RunCliChecks = (input: CliChecksInput) => Promise<CheckOutcome[]>;

export interface WebChecksInput {
  /** The web artifact's directory (a verified copy). */
  dir: string;
  entrypoint: string;
  checks: readonly WebCheck[];
  /** Chromium: a path, `false` to skip, unset to auto-detect (lib/verify/render-check.ts findBrowser). */
  browser?: string | false;
  /** Take a PNG screenshot of the page at the end of the checks (the receipt's picture). */
  screenshot?: boolean;
  /** Run Chromium as this unprivileged user (needs root and `setpriv`; see render-check.ts). */
  runAs?: { uid: number; gid: number };
  /** Chromium's command line (default lib/verify/render-check.ts CHROMIUM_ARGS; Lambda: its own). */
  launchArgs?: readonly string[];
  /** Budget of one check (default 30 s). */
  checkTimeoutMs?: number;
}

export interface WebChecksResult {
  /** `skipped`: no browser here (outcomes empty). */
  status: 'ran' | 'skipped';
  outcomes: CheckOutcome[];
  /** PNG bytes, when asked for and the checks ran. */
  screenshot?: Buffer;
  notes: string[];
}

export type RunWebChecks = (input: WebChecksInput) => Promise<WebChecksResult>;
