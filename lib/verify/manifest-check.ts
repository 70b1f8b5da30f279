import type { ArtifactType } from '../domain/build-spec.ts';
import { type ArtifactManifest, ArtifactManifestSchema, type ManifestEntry } from '../domain/manifest.ts';
import { manifestPathProblem, relIsWithin } from './paths.ts';

export type ParsedManifest = { ok: true; manifest: ArtifactManifest } | { ok: false; problems: string[] };

/** Parses `artifact-manifest.json` text: JSON, then `ArtifactManifestSchema`. */
export function parseManifest(text: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`manifest is not valid JSON: ${(err as Error).message}`] };
  }
  const parsed = ArtifactManifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 10)
      .map((i) => `manifest schema: ${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, problems };
  }
  return { ok: true, manifest: parsed.data };
}

/** Artifact ids must be unique within a manifest. */
export function duplicateIdProblems(entries: readonly ManifestEntry[]): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.artifact_id)) dups.add(e.artifact_id);
    seen.add(e.artifact_id);
  }
  return [...dups].map((id) => `duplicate artifact_id: ${id}`);
}

/** Customer candidates never include source. */
export function sourceIncludedProblems(entries: readonly ManifestEntry[]): string[] {
  return entries.filter((e) => e.source_included).map((e) => `source_included is true: ${e.artifact_id}`);
}

/**
 * The kinds in the manifest must be exactly the requested artifact type: `web` = one or more web
 * entries and no binaries; `binary` = one or more binaries and no web entry; `both` = both.
 * `archive`, `evidence` and `log` entries are refused in a candidate: archives cannot be inspected
 * for source, and evidence/logs are not customer-deliverable (the worker uploads them to the
 * internal evidence prefix, outside the candidate). Binaries must declare a `platform`, and a
 * Windows binary must end in `.exe`; web entries must declare a safe relative `entrypoint`.
 */
export function kindProblems(entries: readonly ManifestEntry[], expected: ArtifactType): string[] {
  const problems: string[] = [];
  const web = entries.filter((e) => e.kind === 'web');
  const bins = entries.filter((e) => e.kind === 'binary');
  for (const e of entries) {
    if (e.kind === 'evidence' || e.kind === 'log') {
      problems.push(`kind ${e.kind} is not deliverable and not accepted in a candidate: ${e.artifact_id}`);
    } else if (e.kind === 'archive') {
      problems.push(`kind archive is not accepted in a candidate: ${e.artifact_id}`);
    }
  }
  const wantWeb = expected === 'web' || expected === 'both';
  const wantBin = expected === 'binary' || expected === 'both';
  if (wantWeb && web.length === 0) problems.push(`requested ${expected} but the manifest has no web entry`);
  if (!wantWeb && web.length > 0) problems.push(`requested ${expected} but the manifest has a web entry`);
  if (wantBin && bins.length === 0)
    problems.push(`requested ${expected} but the manifest has no binary entry`);
  if (!wantBin && bins.length > 0) problems.push(`requested ${expected} but the manifest has binary entries`);
  for (const e of bins) {
    if (e.platform === undefined) problems.push(`binary without platform: ${e.artifact_id}`);
    else if (e.platform.startsWith('windows-') !== e.path.toLowerCase().endsWith('.exe')) {
      problems.push(`binary file name does not match platform ${e.platform}: ${e.artifact_id}`);
    }
    // The seed allows a binary's entrypoint: its file name. Anything else is a mismatch.
    if (e.entrypoint !== undefined && e.entrypoint !== e.path.split('/').pop()) {
      problems.push(`binary entrypoint is not its file name: ${e.artifact_id}`);
    }
  }
  for (const e of web) {
    if (e.entrypoint === undefined) problems.push(`web entry without entrypoint: ${e.artifact_id}`);
    else {
      const p = manifestPathProblem(e.entrypoint);
      if (p) problems.push(`web entrypoint unsafe (${p}): ${e.artifact_id}`);
      else if (!/\.html?$/i.test(e.entrypoint))
        problems.push(`web entrypoint is not an HTML page: ${e.artifact_id}`);
    }
  }
  return problems;
}

/**
 * Manifest paths must be safe relative paths (see `manifestPathProblem`), must not be or
 * contain the manifest itself, and must not overlap each other (equal or nested).
 */
export function manifestPathProblems(entries: readonly ManifestEntry[], manifestPath: string): string[] {
  const problems: string[] = [];
  const safe: ManifestEntry[] = [];
  for (const e of entries) {
    const p = manifestPathProblem(e.path);
    if (p) problems.push(`unsafe path for ${e.artifact_id}: ${p} (${JSON.stringify(e.path)})`);
    else safe.push(e);
  }
  for (const e of safe) {
    if (relIsWithin(e.path, manifestPath)) problems.push(`path of ${e.artifact_id} covers the manifest`);
  }
  for (let i = 0; i < safe.length; i++) {
    for (let j = i + 1; j < safe.length; j++) {
      const a = safe[i]!;
      const b = safe[j]!;
      if (relIsWithin(a.path, b.path) || relIsWithin(b.path, a.path)) {
        problems.push(`paths overlap: ${a.artifact_id} and ${b.artifact_id}`);
      }
    }
  }
  return problems;
}
