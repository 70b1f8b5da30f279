import { z } from 'zod';
import { AcceptanceChecksSchema } from './acceptance.ts';
import { PlatformSchema } from './manifest.ts';

export const ARTIFACT_TYPES = ['web', 'binary', 'both'] as const;
export const ArtifactTypeSchema = z.enum(ARTIFACT_TYPES);
export type ArtifactType = z.infer<typeof ArtifactTypeSchema>;

export const DEFAULT_PLATFORMS = [
  'linux-amd64',
  'linux-arm64',
  'darwin-amd64',
  'darwin-arm64',
  'windows-amd64',
];

/**
 * What the visitor asked for, as validated structured data. The worker receives this, never
 * unchecked free text: `requestText` is carried as data and never becomes a path or a ref.
 */
export const BuildSpecSchema = z
  .object({
    title: z.string().min(1).max(80),
    summary: z.string().min(1).max(600),
    requestText: z.string().min(1).max(4000),
    artifactType: ArtifactTypeSchema,
    platforms: z.array(PlatformSchema).max(8),
    recipe: z
      .string()
      .regex(/^[a-z0-9-]{1,40}$/)
      .optional(),
    features: z.array(z.string().min(1).max(200)).max(12),
    outOfScope: z.array(z.string().min(1).max(200)).max(12),
    complexity: z.enum(['small', 'medium']),
    /**
     * The acceptance checks the visitor approves with the scope (lib/domain/acceptance.ts): what
     * "verified" means for this build. Fixed in the quote version the authorization names.
     */
    checks: AcceptanceChecksSchema.optional(),
  })
  .strict();
export type BuildSpec = z.infer<typeof BuildSpecSchema>;
