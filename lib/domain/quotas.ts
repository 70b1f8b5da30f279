import { z } from 'zod';

/**
 * Limits on anonymous use (pure rules; counted in DynamoDB by `lib/app/quotas.ts`). Per visitor
 * session and per source IP, fixed windows: run creation per hour, messages per minute, and model
 * calls of the chat intake per session per day (a cost bound: each message can be a model call).
 * Over a limit: 429 `rate_limited` with Retry-After; an exhausted model budget instead makes the
 * intake answer with its offline rules (no model call), so the conversation goes on.
 */
export interface QuotaLimits {
  runsPerSessionPerHour: number;
  runsPerSourcePerHour: number;
  messagesPerSessionPerMinute: number;
  messagesPerSourcePerMinute: number;
  modelCallsPerSessionPerDay: number;
}

export const DEFAULT_QUOTAS: QuotaLimits = {
  runsPerSessionPerHour: 20,
  runsPerSourcePerHour: 120,
  messagesPerSessionPerMinute: 20,
  messagesPerSourcePerMinute: 120,
  modelCallsPerSessionPerDay: 200,
};

/** The environment variable of each limit (README "Configuration"). */
export const QUOTA_ENV: Record<keyof QuotaLimits, string> = {
  runsPerSessionPerHour: 'RUNS_PER_SESSION_PER_HOUR',
  runsPerSourcePerHour: 'RUNS_PER_SOURCE_PER_HOUR',
  messagesPerSessionPerMinute: 'MESSAGES_PER_SESSION_PER_MINUTE',
  messagesPerSourcePerMinute: 'MESSAGES_PER_SOURCE_PER_MINUTE',
  modelCallsPerSessionPerDay: 'MODEL_CALLS_PER_SESSION_PER_DAY',
};

const Limit = z.coerce.number().int().min(1).max(100_000_000);

/** Reads the limits from the environment; unset = the default, anything else must be a whole number ≥ 1. */
export function quotasFromEnv(env: Record<string, string | undefined>): QuotaLimits {
  const out = { ...DEFAULT_QUOTAS };
  for (const [field, name] of Object.entries(QUOTA_ENV) as [keyof QuotaLimits, string][]) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const parsed = Limit.safeParse(raw);
    if (!parsed.success) throw new Error(`${name} must be a whole number from 1 to 100000000`);
    out[field] = parsed.data;
  }
  return out;
}

export const HOUR_SECONDS = 3600;
export const MINUTE_SECONDS = 60;
export const DAY_SECONDS = 24 * 3600;
