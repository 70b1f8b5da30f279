import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { keys } from '../../aws/keys.ts';
import { type NewBuildEvent, newEvent } from '../../domain/events.ts';
import { transition } from '../../domain/lifecycle.ts';
import {
  type ArtifactReceipt,
  isCustomerDeliverable,
  type ManifestEntry,
  type VerifiedArtifact,
} from '../../domain/manifest.ts';
import type { VerificationResult } from '../../domain/run.ts';
import { publishedArtifactId, publishedVersion, workingVersionNumber } from '../../domain/versions.ts';
import { contentTypeFor, directoryDigest, sha256File, walkCandidate } from '../../verify/index.ts';
import type { PublishDeps } from './deps.ts';
import type { ArtifactStore } from './ports.ts';
import { commit, loadTaskRun, TaskStateError } from './run-ops.ts';
import type { BuildState } from './state.ts';
import { DEFAULT_DOWNLOAD_LIMITS } from './verify-artifacts.ts';

/** A published key already holds different bytes: published objects are immutable. */
export class ImmutableObjectError extends Error {
  constructor(key: string) {
    super(`published object ${key} already exists with different content`);
    this.name = 'ImmutableObjectError';
  }
}

/** The candidate changed after it was verified. */
export class PublishIntegrityError extends Error {
  constructor(artifactId: string, what: string) {
    super(`artifact ${artifactId}: ${what} differs from the verified manifest`);
    this.name = 'PublishIntegrityError';
  }
}

/**
 * Writes one published object unless it exists. An existing object with the same size and sha256
 * (a retried Publish) is kept; one with other bytes is never overwritten.
 */
export async function putImmutable(
  artifacts: ArtifactStore,
  key: string,
  file: string,
  meta: { contentType: string; sha256: string; size: number },
): Promise<'written' | 'exists'> {
  const existing = await artifacts.head('artifacts', key);
  if (existing) {
    if (existing.size === meta.size && existing.sha256 === meta.sha256) return 'exists';
    throw new ImmutableObjectError(key);
  }
  await artifacts.putFile('artifacts', key, file, meta);
  return 'written';
}

async function publishEntry(
  deps: PublishDeps,
  runId: string,
  root: string,
  manifestEntry: ManifestEntry,
  at: string,
  versionNumber: number,
): Promise<VerifiedArtifact> {
  const abs = path.join(root, manifestEntry.path);
  // Every version publishes at keys of its own (lib/domain/versions.ts).
  const entry = {
    ...manifestEntry,
    artifact_id: publishedArtifactId(manifestEntry.artifact_id, versionNumber),
  };
  if (entry.kind === 'web') {
    // One walk, one hash per file: the digest is checked against the verified manifest and the
    // same hashes go with the uploads.
    const tree = await walkCandidate(abs, { maxEntries: 10_000 }).catch(() => undefined);
    if (!tree || tree.problems.length > 0)
      throw new PublishIntegrityError(entry.artifact_id, 'the directory');
    if (tree.truncated) throw new PublishIntegrityError(entry.artifact_id, 'the tree');
    const files = await Promise.all(tree.files.map(async (f) => ({ ...f, sha256: await sha256File(f.abs) })));
    const sizeBytes = files.reduce((sum, f) => sum + f.size, 0);
    if (directoryDigest(files) !== entry.sha256 || sizeBytes !== entry.size_bytes) {
      throw new PublishIntegrityError(entry.artifact_id, 'the content');
    }
    for (const f of files) {
      await putImmutable(deps.artifacts, keys.published(runId, entry.artifact_id, f.rel), f.abs, {
        contentType: contentTypeFor(f.rel),
        sha256: f.sha256,
        size: f.size,
      });
    }
    const entrypoint = entry.entrypoint ?? 'index.html';
    return {
      ...entry,
      published_key: keys.published(runId, entry.artifact_id, entrypoint),
      content_type: contentTypeFor(entrypoint),
      verified_at: at,
    };
  }
  const info = await stat(abs).catch(() => undefined);
  if (!info?.isFile()) throw new PublishIntegrityError(entry.artifact_id, 'the file');
  const sha256 = await sha256File(abs);
  if (sha256 !== entry.sha256 || info.size !== entry.size_bytes) {
    throw new PublishIntegrityError(entry.artifact_id, 'the content');
  }
  const rel = path.posix.basename(entry.path);
  const key = keys.published(runId, entry.artifact_id, rel);
  const contentType = contentTypeFor(rel);
  await putImmutable(deps.artifacts, key, abs, { contentType, sha256, size: info.size });
  return { ...entry, published_key: key, content_type: contentType, verified_at: at };
}

/**
 * The receipt of one delivered artifact: the checks the gate ran that apply to it (web checks for
 * a web app, cli checks for a binary: they ran on the verifier's build of the same source) and,
 * for the web app the checks photographed, its screenshot copied beside the published artifact.
 */
async function receiptFor(
  deps: PublishDeps,
  runId: string,
  scratch: string,
  verified: VerificationResult,
  artifact: VerifiedArtifact,
  /** The artifact's id in the manifest (the published id carries the version from 2 on). */
  manifestId: string,
): Promise<ArtifactReceipt | undefined> {
  if (!verified.outcomes || verified.outcomes.length === 0) return undefined;
  const kind = artifact.kind === 'web' ? 'web' : 'cli';
  const receipt: ArtifactReceipt = {
    checks: verified.outcomes
      .filter((o) => o.kind === kind)
      .map((o) => ({ id: o.id, kind: o.kind, passed: o.passed, ranOn: o.ranOn })),
  };
  const shot = verified.screenshot;
  if (shot && shot.artifactId === manifestId) {
    const object = await deps.artifacts.getStream('evidence', shot.key);
    if (!object) throw new PublishIntegrityError(artifact.artifact_id, 'the screenshot');
    const file = path.join(scratch, `screenshot-${artifact.artifact_id}.png`);
    await pipeline(object.body, createWriteStream(file));
    const key = keys.receiptScreenshot(runId, artifact.artifact_id);
    const size = (await stat(file)).size;
    await putImmutable(deps.artifacts, key, file, {
      contentType: 'image/png',
      sha256: await sha256File(file),
      size,
    });
    receipt.screenshot_key = key;
  }
  return receipt;
}

/**
 * Publish: copies the verified deliverables of the attempt from the staging candidate to their
 * immutable published keys, re-checking every byte against the verified manifest on the way (what
 * is published is exactly what was verified) with each artifact's receipt (the acceptance checks
 * and the screenshot of the web app at the end of them), records them on the run and moves it
 * `artifact_pending → artifact_ready`. Idempotent: a published run is passed through, and objects
 * a previous try already wrote are kept.
 */
export async function publish(deps: PublishDeps, state: BuildState): Promise<BuildState> {
  const run = await loadTaskRun(deps, state.runId);
  const out: BuildState = {
    runId: run.runId,
    attempt: state.attempt,
    maxAttempts: state.maxAttempts,
    passed: true,
  };
  if (run.phase === 'artifact_ready' || run.phase === 'delivered') {
    await deps.settlement?.settle(run); // a retried Publish finishes a settlement a crash cut short
    return out;
  }
  if (run.phase !== 'artifact_pending') throw new TaskStateError(`Publish cannot run in phase ${run.phase}`);
  const verified = run.verification.find((v) => v.attempt === state.attempt);
  if (!verified?.passed || !run.manifest || run.attempts !== state.attempt) {
    throw new TaskStateError('Publish needs a passed verification of the current attempt');
  }
  // Binaries built only for the verifier's smoke (a platform the visitor did not ask for) stay
  // internal evidence; only what was quoted is delivered.
  const requested = new Set(run.spec?.platforms ?? []);
  const deliverables = run.manifest.artifacts
    .filter(isCustomerDeliverable)
    .filter((e) => e.kind !== 'binary' || !e.platform || requested.size === 0 || requested.has(e.platform));
  if (deliverables.length === 0)
    throw new TaskStateError('the verified manifest has no deliverable artifact');

  const scratch = await mkdtemp(path.join(deps.tempDir ?? tmpdir(), 'publish-'));
  try {
    const root = path.join(scratch, 'candidate');
    const download = await deps.artifacts.downloadPrefix(
      'staging',
      keys.candidatePrefix(run.runId, state.attempt),
      root,
      deps.downloadLimits ?? DEFAULT_DOWNLOAD_LIMITS,
    );
    if (download.rejected.length > 0 || download.overLimit) {
      throw new PublishIntegrityError('candidate', 'the object set');
    }
    const at = deps.now();
    const artifacts: VerifiedArtifact[] = [];
    const number = workingVersionNumber(run);
    for (const entry of deliverables) {
      const artifact = await publishEntry(deps, run.runId, root, entry, at, number);
      const receipt = await receiptFor(deps, run.runId, scratch, verified, artifact, entry.artifact_id);
      artifacts.push(receipt ? { ...artifact, receipt } : artifact);
    }
    if (!run.spec || !run.quote) throw new TaskStateError('Publish needs the approved spec and quote');
    const version = publishedVersion({
      number,
      spec: run.spec,
      quote: run.quote,
      commit: verified.commit,
      attempt: state.attempt,
      artifacts,
      at,
    });

    const kinds = [...new Set(artifacts.map((a) => a.kind))];
    const events: NewBuildEvent[] = [
      newEvent('bus.build.artifact.verified', { artifactIds: artifacts.map((a) => a.artifact_id), kinds }),
    ];
    if (kinds.includes('web'))
      events.push(newEvent('bus.build.progress.updated', { stage: 'preview_ready' }));
    if (kinds.some((k) => k !== 'web')) {
      events.push(newEvent('bus.build.progress.updated', { stage: 'downloads_ready' }));
    }
    events.push(newEvent('bus.build.version.published', { version: number }));
    const patch = { artifacts, versions: [...(run.versions ?? []), version], revision: undefined };
    const ready = await commit(deps, run, transition(run, 'artifact_ready', patch, at), events);
    await deps.settlement?.settle(ready); // capture the card authorization: never undoes artifact_ready
    return out;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
