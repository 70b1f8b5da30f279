import path from 'node:path';
import { hashDirectory } from '../../lib/verify/hash.ts';
import { manifestPathProblem } from '../../lib/verify/paths.ts';
import type { renderCheck as RenderCheck } from '../../lib/verify/render-check.ts';
import { MAX_RENDER_RECORDS, type RenderRecord } from '../../lib/verify/render-evidence.ts';
import type { RenderCheckMode } from './config.ts';

export interface RenderFailure {
  /** `build_failed`: the page is broken (repairable); `internal`: this image cannot render. */
  code: 'build_failed' | 'internal';
  /** Internal only (goes to the repair loop / the operator). */
  reason: string;
  repairable: boolean;
}

export interface RenderOutcome {
  failure?: RenderFailure;
  log: string[];
  /** Render evidence for `result.json`: one record per web entry that was hashed. */
  records: RenderRecord[];
}

export interface RenderOptions {
  /** `auto` (default): no browser → a logged skip; `required`: no browser → failure. */
  mode?: RenderCheckMode;
  /** The web directory's digest as the gate computes it (default: `hashDirectory`). */
  digest?: (dir: string) => Promise<string>;
  /**
   * Run the browser as this unprivileged user (the worker's `COMMAND_USER`): the model-written page
   * must not run in a root browser that could reach the worker's credentials.
   */
  runAs?: { uid: number; gid: number };
}

const hashDir = async (dir: string): Promise<string> => (await hashDirectory(dir)).sha256;

/**
 * Runs the render check on every web entry the manifest lists (paths relative to the manifest's
 * directory) and records, for each, the status and the directory digest of the files it rendered
 * (`lib/verify/hash.ts`, byte-identical to the gate's digest of the staged candidate), so the gate
 * can accept the worker's render for exactly these bytes. Unsafe paths are left to the
 * verification gate, which rejects them. A page that fails to render fails the attempt
 * (`build_failed`, repairable). A missing browser is a logged skip in `auto` mode and an internal,
 * non-repairable failure in `required` mode (the image lacks Chromium: no repair can fix that).
 */
export async function renderWebArtifacts(
  distDir: string,
  artifacts: readonly unknown[],
  check: typeof RenderCheck,
  opts: RenderOptions = {},
): Promise<RenderOutcome> {
  const log: string[] = [];
  const records: RenderRecord[] = [];
  const mode = opts.mode ?? 'auto';
  const digestOf = opts.digest ?? hashDir;
  for (const entry of artifacts) {
    const e = entry as { kind?: unknown; path?: unknown; entrypoint?: unknown; artifact_id?: unknown };
    if (e.kind !== 'web' || typeof e.path !== 'string') continue;
    const entrypoint = typeof e.entrypoint === 'string' ? e.entrypoint : 'index.html';
    if (manifestPathProblem(e.path) || manifestPathProblem(entrypoint)) {
      log.push(`skipped an entry with an unsafe path (the gate will reject it)`);
      continue;
    }
    const id = String(e.artifact_id ?? 'web');
    const dir = path.join(distDir, e.path);
    // Hashed before rendering: the evidence names the bytes that were served to the browser.
    let digest: string | undefined;
    try {
      digest = await digestOf(dir);
    } catch (err) {
      log.push(
        `${id}: not hashed (${err instanceof Error ? err.message : String(err)}); no evidence recorded`,
      );
    }
    const result = await check({
      dir,
      entrypoint,
      ...(opts.runAs && { runAs: { uid: opts.runAs.uid, gid: opts.runAs.gid } }),
    });
    log.push(`${id}: ${result.status}${result.notes.length ? ` (${result.notes.join('; ')})` : ''}`);
    if (result.status === 'failed') {
      return {
        failure: {
          code: 'build_failed',
          reason: `render check failed: ${result.problems.join('; ')}`.slice(0, 2000),
          repairable: true,
        },
        log,
        records,
      };
    }
    if (result.status === 'skipped' && mode === 'required') {
      return {
        failure: {
          code: 'internal',
          reason:
            `render check required (RENDER_CHECK=required) but not run: the worker image lacks a usable Chromium (${
              result.notes.join('; ') || 'no browser'
            })`.slice(0, 2000),
          repairable: false,
        },
        log,
        records,
      };
    }
    const validId =
      typeof e.artifact_id === 'string' && e.artifact_id.length > 0 && e.artifact_id.length <= 100;
    if (digest !== undefined && validId && records.length < MAX_RENDER_RECORDS) {
      records.push({ artifact_id: id, status: result.status, digest });
    }
  }
  return { log, records };
}
