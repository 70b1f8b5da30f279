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
 * The coder's self-check (`run_checks`): on the current `dist/` (after `run_build`) it runs what
 * the gate will run — the render check of each web app, the `--help` smoke of the binary for this
 * machine's platform and every approved acceptance check that applies — and reports each with its
 * failure detail (expected vs. got). For self-checking only: the gate runs everything again on the
 * staged bytes and never trusts this report. Under `COMMAND_USER` the binary and the browser run
 * as that user.
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
}

export interface SelfCheckReport {
  passed: boolean;
  lines: string[];
}

const MAX_DETAIL = 400;
const clip = (s: string) => (s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL - 1)}…` : s);

export async function selfCheck(input: SelfCheckInput): Promise<SelfCheckReport> {
  const lines: string[] = [];
  let passed = true;
  const fail = (line: string) => {
    passed = false;
    lines.push(line);
  };
  let raw: string;
  try {
    raw = await readFile(path.join(input.distDir, 'artifact-manifest.json'), 'utf8');
  } catch {
    return { passed: false, lines: ['FAILED: no dist/artifact-manifest.json: run run_build first'] };
  }
  const parsed = parseManifest(raw);
  if (!parsed.ok) return { passed: false, lines: [`FAILED manifest: ${clip(parsed.problems.join('; '))}`] };
  const entries = parsed.manifest.artifacts.filter((e) => manifestPathProblem(e.path) === undefined);
  const host = input.hostPlatform ?? detectHostPlatform() ?? 'unknown';
  const applicable = checksFor(input.checks, input.artifactType);
  const cli = applicable.filter((c): c is CliCheck => c.kind === 'cli');
  const web = applicable.filter((c): c is WebCheck => c.kind === 'web');

  if (input.artifactType !== 'web') {
    const binary = entries.find((e) => e.kind === 'binary' && e.platform === host);
    if (!binary) {
      fail(`FAILED: no binary for ${host} in dist/ (the gate runs that one)`);
    } else {
      const file = path.join(input.distDir, binary.path);
      const smoke = await smokeBinary({ file, ...(input.runAs && { runAs: input.runAs }) });
      if (smoke.passed) lines.push(`PASSED smoke: ${binary.artifact_id} --help`);
      else fail(`FAILED smoke: ${binary.artifact_id} --help: ${clip(smoke.problems.join('; '))}`);
      const outcomes = await runCliChecks({
        binary: file,
        platform: host,
        checks: cli,
        ...(input.runAs && { runAs: input.runAs }),
      });
      for (const o of outcomes) {
        const title = cli.find((c) => c.id === o.id)?.title ?? o.id;
        if (o.passed) lines.push(`PASSED check ${o.id} "${title}" on ${host}`);
        else fail(`FAILED check ${o.id} "${title}" on ${host}: ${clip(o.detail ?? 'failed')}`);
      }
    }
  }
  if (input.artifactType !== 'binary') {
    const site = entries.find((e) => e.kind === 'web');
    if (!site) {
      fail('FAILED: no web app in dist/');
    } else {
      const dir = path.join(input.distDir, site.path);
      const entrypoint = site.entrypoint ?? 'index.html';
      const render = await renderCheck({
        dir,
        entrypoint,
        ...(input.browser !== undefined && { browser: input.browser }),
        ...(input.runAs && { runAs: input.runAs }),
      });
      if (render.status === 'skipped') lines.push(`SKIPPED render check: ${render.notes.join('; ')}`);
      else if (render.problems.length === 0) lines.push(`PASSED render check: ${site.artifact_id}`);
      else fail(`FAILED render check: ${clip(render.problems.join('; '))}`);
      if (web.length > 0) {
        const result = await runWebChecks({
          dir,
          entrypoint,
          checks: web,
          ...(input.browser !== undefined && { browser: input.browser }),
          ...(input.runAs && { runAs: input.runAs }),
        });
        if (result.status === 'skipped') lines.push(`SKIPPED web checks: ${result.notes.join('; ')}`);
        for (const o of result.outcomes) {
          const title = web.find((c) => c.id === o.id)?.title ?? o.id;
          if (o.passed) lines.push(`PASSED check ${o.id} "${title}" (web)`);
          else fail(`FAILED check ${o.id} "${title}" (web): ${clip(o.detail ?? 'failed')}`);
        }
      }
    }
  }
  if (applicable.length === 0) lines.push('No acceptance checks were approved for this tool.');
  lines.unshift(passed ? 'ALL PASSED (the gate runs these again on the final build).' : 'SOME FAILED:');
  return { passed, lines };
}
