import { z } from 'zod';

const count = z.number().int().nonnegative();

/**
 * How a model or command coder's attempt went, as the worker records it in its `result.json`
 * (`coder`): the coder, its model calls and tool calls, the tokens by kind as the provider
 * reported them plus the budget tokens they count for, the limits, what was left, and why it
 * stopped (`finished` or the internal reason). Internal: shown by `bus-build show`, never public.
 */
export const CoderReportSchema = z
  .object({
    kind: z.enum(['model', 'command']),
    coder: z.string().max(200),
    steps: count.optional(),
    toolCalls: count.optional(),
    tokens: z
      .object({ input: count, cachedInput: count, cacheWrite: count, output: count, budget: count })
      .strict()
      .optional(),
    /** The command coder has a wall-time budget only. */
    limits: z.object({ maxSteps: count.optional(), maxTokens: count.optional(), maxSeconds: count }).strict(),
    left: z.object({ steps: count, tokens: count, seconds: count }).strict().optional(),
    seconds: count,
    progressReports: count,
    stopped: z.string().max(300),
  })
  .strict();
export type CoderReport = z.infer<typeof CoderReportSchema>;
