import path from 'node:path';
import {
  type AcceptanceCheck,
  type CheckOutcome,
  CheckOutcomeSchema,
  type CliCheck,
  clipDetail,
  type WebCheck,
} from '../domain/acceptance.ts';
import type { ManifestEntry } from '../domain/manifest.ts';
import type { WebChecksResult } from './acceptance/types.ts';
import { SmokeRunnerError } from './smoke-binary.ts';

/**
 * The gate's part of the acceptance checks (lib/domain/acceptance.ts): it hands the approved
 * checks to the runners (lib/verify/acceptance, or the isolated functions on AWS) and judges what
 * comes back. A check passes only with an outcome of its own that says so: a check without one, a
 * runner that skipped (no browser) or an outcome for a check that was not asked for never passes.
 */

/** Runs the cli checks on one binary entry whose verified copy is at `absPath`. */
export type CliChecksRunner = (
  entry: ManifestEntry,
  absPath: string,
  checks: readonly CliCheck[],
) => Promise<CheckOutcome[]>;

/** Runs the web checks on one web entry whose verified copy is the directory `absDir`. */
export type WebChecksRunner = (
  entry: ManifestEntry,
  absDir: string,
  checks: readonly WebCheck[],
  opts: { screenshot: boolean },
) => Promise<WebChecksResult>;

export interface AcceptanceOptions {
  /** The approved spec's checks that apply to the artifact type (`checksFor`). */
  checks: readonly AcceptanceCheck[];
  runCli?: CliChecksRunner;
  runWeb?: WebChecksRunner;
  /** Keep a PNG of each web artifact at the end of its checks (the receipt's picture; default true). */
  screenshot?: boolean;
}

export interface AcceptanceScreenshot {
  /** The web artifact it shows. */
  artifactId: string;
  png: Buffer;
}

export interface AcceptanceRun {
  outcomes: CheckOutcome[];
  /** Failed checks, one line each: `"title" (id) on platform: detail`. Internal. */
  cliProblems: string[];
  webProblems: string[];
  cliRan: string[];
  webRan: string[];
  screenshots: AcceptanceScreenshot[];
}

/** The outcomes of `checks` as a runner reported them, one per check; a missing one is a failure. */
function judge(
  checks: readonly AcceptanceCheck[],
  reported: readonly CheckOutcome[],
  ranOn: string,
): { outcomes: CheckOutcome[]; problems: string[] } {
  const outcomes: CheckOutcome[] = [];
  const problems: string[] = [];
  for (const check of checks) {
    const raw = reported.find((o) => o.id === check.id && o.kind === check.kind);
    const got =
      raw && CheckOutcomeSchema.safeParse({ ...raw, detail: raw.detail && clipDetail(raw.detail, 1_000) });
    const outcome: CheckOutcome = got?.success
      ? got.data
      : {
          id: check.id,
          kind: check.kind,
          passed: false,
          ranOn,
          durationMs: 0,
          detail: raw
            ? 'the runner reported an invalid result'
            : 'the runner reported no result for this check',
        };
    outcomes.push(outcome);
    if (!outcome.passed) {
      problems.push(
        `"${check.title}" (${check.id}) on ${outcome.ranOn}: ${clipDetail(outcome.detail ?? 'failed', 400)}`,
      );
    }
  }
  return { outcomes, problems };
}

/**
 * Runs the cli checks on every binary for the runner's platform and the web checks on every web
 * artifact. Called only for a candidate that passed every static check and smoke.
 */
export async function runAcceptance(
  opts: AcceptanceOptions,
  root: string,
  binaries: readonly ManifestEntry[],
  webs: readonly ManifestEntry[],
  hostPlatform: string | undefined,
): Promise<AcceptanceRun> {
  const cli = opts.checks.filter((c): c is CliCheck => c.kind === 'cli');
  const web = opts.checks.filter((c): c is WebCheck => c.kind === 'web');
  const out: AcceptanceRun = {
    outcomes: [],
    cliProblems: [],
    webProblems: [],
    cliRan: [],
    webRan: [],
    screenshots: [],
  };
  if (cli.length > 0) {
    if (!opts.runCli) throw new SmokeRunnerError('no runner for the cli acceptance checks');
    if (binaries.length === 0) {
      out.cliProblems.push(
        `no binary for the runner platform ${hostPlatform ?? '(unknown)'} to run the checks on`,
      );
    }
    for (const e of binaries) {
      const reported = await opts.runCli(e, path.join(root, e.path), cli);
      const r = judge(cli, reported, e.platform ?? hostPlatform ?? 'unknown');
      out.outcomes.push(...r.outcomes);
      out.cliProblems.push(...r.problems.map((p) => `${e.artifact_id}: ${p}`));
      out.cliRan.push(e.artifact_id);
    }
  }
  if (web.length > 0) {
    if (!opts.runWeb) throw new SmokeRunnerError('no runner for the web acceptance checks');
    for (const e of webs) {
      const result = await opts.runWeb(e, path.join(root, e.path), web, {
        screenshot: opts.screenshot !== false,
      });
      // No browser is no verdict: the task fails (and is retried), the candidate is not judged.
      if (result.status !== 'ran') {
        throw new SmokeRunnerError(
          `the web acceptance checks could not run: ${result.notes.join('; ') || 'skipped'}`,
        );
      }
      const r = judge(web, result.outcomes, 'web');
      out.outcomes.push(...r.outcomes);
      out.webProblems.push(...r.problems.map((p) => `${e.artifact_id}: ${p}`));
      out.webRan.push(e.artifact_id);
      if (result.screenshot) out.screenshots.push({ artifactId: e.artifact_id, png: result.screenshot });
    }
  }
  return out;
}
