import { ConflictError, NotFoundError } from '../domain/errors.ts';
import { newEvent } from '../domain/events.ts';
import { transition } from '../domain/lifecycle.ts';
import type { VerifiedArtifact } from '../domain/manifest.ts';
import type { BuildRun } from '../domain/run.ts';
import { type Caller, loadOwnedRun } from './access.ts';
import type { AppDeps } from './deps.ts';
import { recordEvents } from './record.ts';

const DELIVERABLE = new Set(['artifact_ready', 'delivered']);

/**
 * The verified artifacts of a run, for its owner. Handing out the links is delivery: the first
 * time a ready run's links are given out, the run moves to `delivered` (once, whoever races).
 */
export async function deliverArtifacts(
  deps: Pick<AppDeps, 'store' | 'publisher' | 'now'>,
  caller: Caller,
  runId: string,
): Promise<{ run: BuildRun; artifacts: VerifiedArtifact[] }> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  if (!DELIVERABLE.has(run.phase)) return { run, artifacts: [] };
  if (run.phase === 'artifact_ready') {
    const next = transition(run, 'delivered', {}, deps.now());
    try {
      await deps.store.saveRun(next, { phase: run.phase, version: run.version });
      await recordEvents(deps, runId, [newEvent('bus.build.run.delivered', {})]);
      return { run: next, artifacts: next.artifacts };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      const current = await loadOwnedRun(deps.store, runId, caller);
      return { run: current, artifacts: DELIVERABLE.has(current.phase) ? current.artifacts : [] };
    }
  }
  return { run, artifacts: run.artifacts };
}

/** One verified, downloadable artifact of the caller's run, or 404. Web apps open as previews. */
export async function resolveDownload(
  deps: Pick<AppDeps, 'store' | 'publisher' | 'now'>,
  caller: Caller,
  runId: string,
  artifactId: string,
): Promise<VerifiedArtifact> {
  const { artifacts } = await deliverArtifacts(deps, caller, runId);
  const artifact = artifacts.find((a) => a.artifact_id === artifactId);
  if (!artifact || artifact.kind === 'web' || artifact.source_included) throw new NotFoundError('artifact');
  return artifact;
}

/** The customer-facing file name: the artifact's name reduced to safe characters. */
export function downloadFileName(artifact: VerifiedArtifact): string {
  const base = artifact.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'artifact';
  const exe = artifact.platform?.startsWith('windows-') && !base.endsWith('.exe') ? '.exe' : '';
  return `${base}${exe}`.slice(0, 120);
}
