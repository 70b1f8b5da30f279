import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type AcceptanceCheck,
  type CliCheck,
  checksFor,
  type WebCheck,
} from '../../../lib/domain/acceptance.ts';
import type { ArtifactType } from '../../../lib/domain/build-spec.ts';
import { runCliChecks } from '../../../lib/verify/acceptance/cli-runner.ts';
import { runWebChecks } from '../../../lib/verify/acceptance/web-runner.ts';
import { parseManifest } from '../../../lib/verify/manifest-check.ts';
import { manifestPathProblem } from '../../../lib/verify/paths.ts';
import { renderCheck } from '../../../lib/verify/render-check.ts';
import { detectHostPlatform, smokeBinary } from '../../../lib/verify/smoke-binary.ts';

/**
 * The coder's self-check: on the current `dist/` (after a build) it runs what the gate will run —
 * the render check of each web app, the `--help` smoke of the binary for this machine's platform
 * and every approved acceptance check that applies — and reports each with its failure detail
 * (expected vs. got, truncated). One function for both coders: the model coder's `run_checks` tool
 * and the external agent's `self-check` command (self-check-command.ts). For self-checking only:
 * the gate runs everything again on the staged bytes and never trusts this report. With `runAs`
 * (the worker, as root, under `COMMAND_USER`) the binary and the browser run as that user; the
 * `self-check` command already runs as the user and passes none.
 */
export interface SelfCheckInput {
  /** The worktree's `dist/` (the template build's output). */
  distDir: string;
  checks: readonly AcceptanceCheck[];
  artifactType: ArtifactType;
  hostPlatform?: string;
  runAs?: { uid: number; gid: number };
  /** Chromium: a path, `false` to skip, unset to auto-detect. */
  browser?: string | false;
  /** What to tell the coder when there is no build to check (default: `run run_build first`). */
  buildHint?: string;
}

export type SelfCheckStatus = 'passed' | 'failed' | 'skipped';

/** One thing that ran (or could not run). */
export interface SelfCheckResult {
  /** `build`: dist/ itself (missing or invalid manifest, no binary/app for this machine). */
  kind: 'build' | 'smoke' | 'render' | 'check';
  status: SelfCheckStatus;
  /** The acceptance check's id (`check`) or the artifact's id (`smoke`, `render`). */
  id?: string;
  /** The acceptance check's customer-facing title. */
  title?: string;
  /** `cli` or `web` for an acceptance check. */
  checkKind?: 'cli' | 'web';
  /** The platform a binary check ran on. */
  platform?: string;
  /** Why it failed (expected vs. got) or was skipped; at most {@link MAX_DETAIL} characters. */
  detail?: string;
}

export interface SelfCheckRun {
  passed: boolean;
  results: SelfCheckResult[];
  /** How many approved acceptance checks apply to the artifact type. */
  applicableChecks: number;
}

export interface SelfCheckReport {
  passed: boolean;
  lines: string[];
}

export const MAX_DETAIL = 400;
const clip = (s: string) => (s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL - 1)}…` : s);

/** Runs the checks and returns one result per check (the structured form of the report). */
export async function runSelfChecks(input: SelfCheckInput): Promise<SelfCheckRun> {
  const results: SelfCheckResult[] = [];
  const applicable = checksFor(input.checks, input.artifactType);
  const done = (): SelfCheckRun => ({
    passed: results.every((r) => r.status !== 'failed'),
    results,
    applicableChecks: applicable.length,
  });
  const hint = input.buildHint ?? 'run run_build first';
  let raw: string;
  try {
    raw = await readFile(path.join(input.distDir, 'artifact-manifest.json'), 'utf8');
  } catch {
    results.push({ kind: 'build', status: 'failed', detail: `no dist/artifact-manifest.json: ${hint}` });
    return done();
  }
  const parsed = parseManifest(raw);
  if (!parsed.ok) {
    results.push({
      kind: 'build',
      status: 'failed',
      detail: clip(`manifest: ${parsed.problems.join('; ')}`),
    });
    return done();
  }
  const entries = parsed.manifest.artifacts.filter((e) => manifestPathProblem(e.path) === undefined);
  const host = input.hostPlatform ?? detectHostPlatform() ?? 'unknown';
  const cli = applicable.filter((c): c is CliCheck => c.kind === 'cli');
  const web = applicable.filter((c): c is WebCheck => c.kind === 'web');
  const runAs = input.runAs && { runAs: input.runAs };
  const browser = input.browser !== undefined && { browser: input.browser };

  if (input.artifactType !== 'web') {
    const binary = entries.find((e) => e.kind === 'binary' && e.platform === host);
    if (!binary) {
      results.push({
        kind: 'build',
        status: 'failed',
        detail: `no binary for ${host} in dist/ (the gate runs that one)`,
      });
    } else {
      const file = path.join(input.distDir, binary.path);
      const smoke = await smokeBinary({ file, ...runAs });
      results.push({
        kind: 'smoke',
        id: binary.artifact_id,
        platform: host,
        status: smoke.passed ? 'passed' : 'failed',
        ...(!smoke.passed && { detail: clip(smoke.problems.join('; ')) }),
      });
      const outcomes = await runCliChecks({ binary: file, platform: host, checks: cli, ...runAs });
      for (const o of outcomes) {
        results.push({
          kind: 'check',
          checkKind: 'cli',
          id: o.id,
          title: cli.find((c) => c.id === o.id)?.title ?? o.id,
          platform: host,
          status: o.passed ? 'passed' : 'failed',
          ...(!o.passed && { detail: clip(o.detail ?? 'failed') }),
        });
      }
    }
  }
  if (input.artifactType !== 'binary') {
    const site = entries.find((e) => e.kind === 'web');
    if (!site) {
      results.push({ kind: 'build', status: 'failed', detail: 'no web app in dist/' });
    } else {
      const dir = path.join(input.distDir, site.path);
      const entrypoint = site.entrypoint ?? 'index.html';
      const render = await renderCheck({ dir, entrypoint, ...browser, ...runAs });
      const renderStatus: SelfCheckStatus =
        render.status === 'skipped' ? 'skipped' : render.problems.length === 0 ? 'passed' : 'failed';
      results.push({
        kind: 'render',
        id: site.artifact_id,
        status: renderStatus,
        ...(renderStatus === 'skipped' && { detail: clip(render.notes.join('; ')) }),
        ...(renderStatus === 'failed' && { detail: clip(render.problems.join('; ')) }),
      });
      if (web.length > 0) {
        const result = await runWebChecks({ dir, entrypoint, checks: web, ...browser, ...runAs });
        const ran = new Set(result.outcomes.map((o) => o.id));
        for (const o of result.outcomes) {
          results.push({
            kind: 'check',
            checkKind: 'web',
            id: o.id,
            title: web.find((c) => c.id === o.id)?.title ?? o.id,
            status: o.passed ? 'passed' : 'failed',
            ...(!o.passed && { detail: clip(o.detail ?? 'failed') }),
          });
        }
        if (result.status === 'skipped') {
          for (const c of web.filter((c) => !ran.has(c.id))) {
            results.push({
              kind: 'check',
              checkKind: 'web',
              id: c.id,
              title: c.title,
              status: 'skipped',
              detail: clip(result.notes.join('; ') || 'skipped'),
            });
          }
        }
      }
    }
  }
  return done();
}

/** One human-readable line for a result. */
export function selfCheckLine(r: SelfCheckResult): string {
  const word = r.status.toUpperCase();
  const detail = r.detail ? `: ${r.detail}` : '';
  switch (r.kind) {
    case 'build':
      return `${word}${detail}`;
    case 'smoke':
      return `${word} smoke: ${r.id} --help${detail}`;
    case 'render':
      return r.status === 'passed' ? `PASSED render check: ${r.id}` : `${word} render check${detail}`;
    case 'check':
      return `${word} check ${r.id} "${r.title}" ${r.checkKind === 'web' ? '(web)' : `on ${r.platform}`}${detail}`;
  }
}

/** The report as lines: a verdict first, then one line per result. */
export function selfCheckLines(run: SelfCheckRun): string[] {
  const lines = run.results.map(selfCheckLine);
  if (run.applicableChecks === 0) lines.push('No acceptance checks were approved for this tool.');
  lines.unshift(run.passed ? 'ALL PASSED (the gate runs these again on the final build).' : 'SOME FAILED:');
  return lines;
}

/** `run_checks`: {@link runSelfChecks} as the tool's text report. */
export async function selfCheck(input: SelfCheckInput): Promise<SelfCheckReport> {
  const run = await runSelfChecks(input);
  return { passed: run.passed, lines: selfCheckLines(run) };
}
