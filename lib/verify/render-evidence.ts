import { z } from 'zod';

/**
 * Render evidence: the worker's record of the render check it ran on a web artifact, carried in
 * its `result.json` (`render`), and the rule by which the verification gate accepts it in place
 * of its own render check.
 *
 * The worker renders where it has Chromium (the worker image); the VerifyArtifacts Lambda has
 * none, so its own `smoke.render` is `skipped`. With the gate setting `RENDER_EVIDENCE=worker`
 * a skipped render is not a pass: every web artifact of the candidate needs a worker record with
 * status `passed` whose `digest` equals the directory digest of the staged candidate's web files
 * (`directoryDigest`, the manifest's `sha256` for a web entry), i.e. the rendered bytes are the
 * bytes that will be published. Reported as the check `smoke.render_evidence`.
 */

/** `none`: a skipped gate render passes as today; `worker`: it needs passed, matching worker evidence. */
export const RENDER_EVIDENCE_MODES = ['none', 'worker'] as const;
export type RenderEvidenceMode = (typeof RENDER_EVIDENCE_MODES)[number];

/** Most render records a worker result carries (one per web artifact). */
export const MAX_RENDER_RECORDS = 50;

export const RenderRecordSchema = z
  .object({
    artifact_id: z.string().min(1).max(100),
    /** `failed` never appears: a failed render fails the worker's attempt instead. */
    status: z.enum(['passed', 'skipped']),
    /** Lower-case hex directory digest of the web directory the worker rendered. */
    digest: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type RenderRecord = z.infer<typeof RenderRecordSchema>;

/** `RENDER_EVIDENCE` (`none` | `worker`; unset or empty: `none`). */
export function renderEvidenceModeFrom(env: NodeJS.ProcessEnv): RenderEvidenceMode {
  const raw = env.RENDER_EVIDENCE?.trim();
  if (!raw) return 'none';
  if (!(RENDER_EVIDENCE_MODES as readonly string[]).includes(raw)) {
    throw new Error(`RENDER_EVIDENCE must be one of ${RENDER_EVIDENCE_MODES.join(', ')}`);
  }
  return raw as RenderEvidenceMode;
}

/**
 * Why the worker's evidence does not stand in for the gate's render of one web artifact (empty:
 * it does). `digest` is the gate's digest of the staged web directory (undefined: not hashed).
 */
export function renderEvidenceProblems(
  artifactId: string,
  digest: string | undefined,
  records: readonly RenderRecord[],
): string[] {
  const mine = records.filter((r) => r.artifact_id === artifactId);
  if (mine.length === 0) return [`no render evidence for ${artifactId}`];
  const passed = mine.filter((r) => r.status === 'passed');
  if (passed.length === 0)
    return [`render evidence for ${artifactId} is skipped: the worker did not render it`];
  if (digest === undefined) return [`${artifactId}: the candidate's web files were not hashed`];
  if (!passed.some((r) => r.digest === digest)) {
    return [`render evidence digest does not match the candidate (${artifactId})`];
  }
  return [];
}
