import { z } from 'zod';

export const ARTIFACT_KINDS = ['web', 'binary', 'archive', 'evidence', 'log'] as const;
export const ArtifactKindSchema = z.enum(ARTIFACT_KINDS);
export type ArtifactKind = z.infer<typeof ArtifactKindSchema>;

export const ArtifactIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'not an artifact id');
export const PlatformSchema = z.string().regex(/^(linux|darwin|windows)-(amd64|arm64)$/, 'not a platform');

/** One entry of `artifact-manifest.json`: the seed's fields. `path` is internal only. */
export const ManifestEntrySchema = z
  .object({
    artifact_id: ArtifactIdSchema,
    kind: ArtifactKindSchema,
    name: z.string().min(1).max(120),
    path: z.string().min(1).max(512),
    sha256: z.string().regex(/^[a-f0-9]{64}$/, 'not a sha256 hex digest'),
    size_bytes: z.number().int().nonnegative(),
    platform: PlatformSchema.optional(),
    entrypoint: z.string().min(1).max(200).optional(),
    source_included: z.boolean(),
  })
  .strict();
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

export const ArtifactManifestSchema = z
  .object({
    schema_version: z.literal(1),
    run_id: z.string().optional(),
    artifacts: z.array(ManifestEntrySchema).max(64),
  })
  .strict();
export type ArtifactManifest = z.infer<typeof ArtifactManifestSchema>;

/**
 * What the gate proved about one delivered artifact: the acceptance checks that apply to it (by
 * the approved spec's check ids; the titles come from the spec) and, for a web app, the published
 * key of the screenshot taken at the end of its checks. Keys are internal.
 */
export const ArtifactReceiptSchema = z
  .object({
    checks: z
      .array(
        z
          .object({
            id: z.string().min(1).max(40),
            kind: z.enum(['cli', 'web']),
            passed: z.boolean(),
            ranOn: z.string().max(40),
          })
          .strict(),
      )
      .max(16),
    screenshot_key: z.string().min(1).optional(),
  })
  .strict();
export type ArtifactReceipt = z.infer<typeof ArtifactReceiptSchema>;

/** A verified artifact as recorded on the run after Publish. Keys are internal. */
export const VerifiedArtifactSchema = ManifestEntrySchema.extend({
  published_key: z.string().min(1),
  content_type: z.string().min(1),
  verified_at: z.string(),
  /** Absent on artifacts published before acceptance checks (and on runs whose spec had none). */
  receipt: ArtifactReceiptSchema.optional(),
});
export type VerifiedArtifact = z.infer<typeof VerifiedArtifactSchema>;

/** Customer-delivered artifacts never include source. */
export function isCustomerDeliverable(entry: ManifestEntry): boolean {
  return (
    !entry.source_included && (entry.kind === 'web' || entry.kind === 'binary' || entry.kind === 'archive')
  );
}
