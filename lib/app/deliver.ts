import { ConflictError, NotFoundError } from '../domain/errors.ts';
import { newEvent } from '../domain/events.ts';
import { transition } from '../domain/lifecycle.ts';
import type { VerifiedArtifact } from '../domain/manifest.ts';
import { deliveredArtifacts } from '../domain/projection.ts';
import type { BuildRun } from '../domain/run.ts';
import { currentVersion } from '../domain/versions.ts';
import { type Caller, loadOwnedRun } from './access.ts';
import type { AppDeps } from './deps.ts';
import { recordEvents } from './record.ts';

const DELIVERABLE = new Set(['artifact_ready', 'delivered']);

/**
 * The verified artifacts of a run, for its owner: the current version's, or version `version`'s
 * (every delivered version stays available, whatever a later change is doing). Handing out the
 * links is delivery: the first time a ready run's links are given out, the run moves to
 * `delivered` (once, whoever races).
 */
export async function deliverArtifacts(
  deps: Pick<AppDeps, 'store' | 'publisher' | 'now'>,
  caller: Caller,
  runId: string,
  version?: number,
): Promise<{ run: BuildRun; artifacts: VerifiedArtifact[]; version: number | null }> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  const out = (r: BuildRun) => ({
    run: r,
    artifacts: deliveredArtifacts(r, version),
    version: version ?? currentVersion(r)?.number ?? (DELIVERABLE.has(r.phase) ? 1 : null),
  });
  if (version !== undefined && deliveredArtifacts(run, version).length === 0)
    throw new NotFoundError('version');
  if (run.phase === 'artifact_ready') {
    const next = transition(run, 'delivered', {}, deps.now());
    try {
      await deps.store.saveRun(next, { phase: run.phase, version: run.version });
      await recordEvents(deps, runId, [newEvent('bus.build.run.delivered', {})]);
      return out(next);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return out(await loadOwnedRun(deps.store, runId, caller));
    }
  }
  return out(run);
}

/** Every artifact of every delivered version of a run (published ids are unique across versions). */
function allDeliveredArtifacts(run: BuildRun): VerifiedArtifact[] {
  const versions = run.versions ?? [];
  return versions.length > 0 ? versions.flatMap((v) => v.artifacts) : deliveredArtifacts(run);
}

/** One verified, downloadable artifact of the caller's run (any delivered version), or 404. */
export async function resolveDownload(
  deps: Pick<AppDeps, 'store' | 'publisher' | 'now'>,
  caller: Caller,
  runId: string,
  artifactId: string,
): Promise<VerifiedArtifact> {
  const { run } = await deliverArtifacts(deps, caller, runId);
  const artifact = allDeliveredArtifacts(run).find((a) => a.artifact_id === artifactId);
  if (!artifact || artifact.kind === 'web' || artifact.source_included) throw new NotFoundError('artifact');
  return artifact;
}

/** The customer-facing file name: the artifact's name reduced to safe characters. */
export function downloadFileName(artifact: VerifiedArtifact): string {
  const base = artifact.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'artifact';
  const exe = artifact.platform?.startsWith('windows-') && !base.endsWith('.exe') ? '.exe' : '';
  return `${base}${exe}`.slice(0, 120);
}
