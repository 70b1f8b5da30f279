import path from 'node:path';
import { manifestPathProblem } from '../../lib/verify/paths.ts';
import type { renderCheck as RenderCheck } from '../../lib/verify/render-check.ts';

/**
 * Runs the render check on every web entry the manifest lists (paths relative to the manifest's
 * directory). Unsafe paths are left to the verification gate, which rejects them; a missing
 * browser is a logged skip, never a failure.
 */
export async function renderWebArtifacts(
  distDir: string,
  artifacts: readonly unknown[],
  check: typeof RenderCheck,
): Promise<{ failure?: string; log: string[] }> {
  const log: string[] = [];
  for (const entry of artifacts) {
    const e = entry as { kind?: unknown; path?: unknown; entrypoint?: unknown; artifact_id?: unknown };
    if (e.kind !== 'web' || typeof e.path !== 'string') continue;
    const entrypoint = typeof e.entrypoint === 'string' ? e.entrypoint : 'index.html';
    if (manifestPathProblem(e.path) || manifestPathProblem(entrypoint)) {
      log.push(`skipped an entry with an unsafe path (the gate will reject it)`);
      continue;
    }
    const result = await check({ dir: path.join(distDir, e.path), entrypoint });
    log.push(
      `${String(e.artifact_id ?? 'web')}: ${result.status}${result.notes.length ? ` (${result.notes.join('; ')})` : ''}`,
    );
    if (result.status === 'failed') {
      return { failure: `render check failed: ${result.problems.join('; ')}`.slice(0, 2000), log };
    }
  }
  return { log };
}
