import { RateLimitedError } from '../domain/errors.ts';
import type { RateCounter } from '../domain/ports.ts';
import { DAY_SECONDS, HOUR_SECONDS, MINUTE_SECONDS, type QuotaLimits } from '../domain/quotas.ts';

/** One fixed-window limit on a counter key. */
export interface Limit {
  key: string;
  limit: number;
  windowSeconds: number;
}

/** Counts one hit against each limit in turn; the first one over throws RateLimitedError (429). */
export async function enforceLimits(
  counter: RateCounter,
  nowMs: number,
  limits: Limit[],
  message?: string,
): Promise<void> {
  for (const l of limits) {
    const hit = await counter.hit(l.key, l.limit, l.windowSeconds, nowMs);
    if (!hit.allowed) throw new RateLimitedError(hit.retryAfterSeconds, message);
  }
}

const TOO_MANY_RUNS = 'Too many build runs were started. Please wait a little and try again.';
const TOO_MANY_MESSAGES = 'Too many messages in a short time. Please wait a little and try again.';

/**
 * The quotas on anonymous use (`lib/domain/quotas.ts`), counted in the run table (`RATE#…` items
 * with TTL) so they hold across Lambda containers on AWS exactly as in the local gateway.
 */
export class Quotas {
  constructor(
    private readonly counter: RateCounter,
    private readonly limits: QuotaLimits,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  /** Before a run is created: per source IP, and per session when the caller already has one. */
  async runCreation(sessionId: string | undefined, sourceIp: string | undefined): Promise<void> {
    await enforceLimits(
      this.counter,
      Date.parse(this.now()),
      [
        ...(sourceIp
          ? [
              {
                key: `runs-ip:${sourceIp}`,
                limit: this.limits.runsPerSourcePerHour,
                windowSeconds: HOUR_SECONDS,
              },
            ]
          : []),
        ...(sessionId
          ? [
              {
                key: `runs-session:${sessionId}`,
                limit: this.limits.runsPerSessionPerHour,
                windowSeconds: HOUR_SECONDS,
              },
            ]
          : []),
      ],
      TOO_MANY_RUNS,
    );
  }

  /** Before a visitor message is handled: per session and per source IP. */
  async message(sessionId: string, sourceIp: string | undefined): Promise<void> {
    await enforceLimits(
      this.counter,
      Date.parse(this.now()),
      [
        {
          key: `messages-session:${sessionId}`,
          limit: this.limits.messagesPerSessionPerMinute,
          windowSeconds: MINUTE_SECONDS,
        },
        ...(sourceIp
          ? [
              {
                key: `messages-ip:${sourceIp}`,
                limit: this.limits.messagesPerSourcePerMinute,
                windowSeconds: MINUTE_SECONDS,
              },
            ]
          : []),
      ],
      TOO_MANY_MESSAGES,
    );
  }

  /** Counts one model call of the session's daily budget; false when it is spent. */
  async modelCall(sessionId: string): Promise<boolean> {
    const hit = await this.counter.hit(
      `model-session:${sessionId}`,
      this.limits.modelCallsPerSessionPerDay,
      DAY_SECONDS,
      Date.parse(this.now()),
    );
    return hit.allowed;
  }
}
