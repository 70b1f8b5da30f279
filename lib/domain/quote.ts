import { z } from 'zod';
import { ArtifactTypeSchema } from './build-spec.ts';

export const QuoteSchema = z
  .object({
    version: z.number().int().positive(),
    amountCents: z.number().int().nonnegative(),
    currency: z.string().regex(/^[a-z]{3}$/),
    artifactType: ArtifactTypeSchema,
    platforms: z.array(z.string()),
    lineItems: z.array(z.object({ label: z.string(), amountCents: z.number().int() }).strict()),
    delivery: z.string(),
    createdAt: z.string(),
  })
  .strict();
export type Quote = z.infer<typeof QuoteSchema>;
