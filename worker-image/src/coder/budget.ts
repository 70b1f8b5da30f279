/**
 * Per-attempt budgets of the model-driven and external coders: model steps (one `converse` call
 * each), tokens (input + output, summed over the attempt's usage reports) and wall time. Whichever
 * runs out first ends the attempt with `coder_failed` and an internal `budget exhausted: …`
 * reason; the customer only ever sees the fixed failure sentence for the code.
 */

export interface CoderBudgetLimits {
  maxSteps: number;
  maxTokens: number;
  maxSeconds: number;
}

export const DEFAULT_CODER_BUDGET: Readonly<CoderBudgetLimits> = Object.freeze({
  maxSteps: 40,
  maxTokens: 600_000,
  maxSeconds: 900,
});

const BOUNDS: Readonly<Record<keyof CoderBudgetLimits, { env: string; max: number }>> = {
  maxSteps: { env: 'CODER_MAX_STEPS', max: 500 },
  maxTokens: { env: 'CODER_MAX_TOKENS', max: 20_000_000 },
  maxSeconds: { env: 'CODER_MAX_SECONDS', max: 6 * 60 * 60 },
};

export class CoderBudgetConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoderBudgetConfigError';
  }
}

/** `CODER_MAX_STEPS`, `CODER_MAX_TOKENS`, `CODER_MAX_SECONDS` (positive integers; defaults above). */
export function loadCoderBudget(env: NodeJS.ProcessEnv): CoderBudgetLimits {
  const out = { ...DEFAULT_CODER_BUDGET };
  for (const key of Object.keys(BOUNDS) as (keyof CoderBudgetLimits)[]) {
    const { env: name, max } = BOUNDS[key];
    const raw = env[name]?.trim();
    if (!raw) continue;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new CoderBudgetConfigError(`${name} must be an integer from 1 to ${max}`);
    }
    out[key] = value;
  }
  return out;
}

/** The running budget of one attempt. */
export class AttemptBudget {
  private steps = 0;
  private tokens = 0;
  private readonly startedAt: number;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly limits: CoderBudgetLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.timer = setTimeout(
      () => this.controller.abort(new Error('coder wall-time budget exhausted')),
      limits.maxSeconds * 1000,
    );
    this.timer.unref();
  }

  /** Aborted when the wall-time budget runs out (model calls and commands listen to it). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get usedSteps(): number {
    return this.steps;
  }

  get usedTokens(): number {
    return this.tokens;
  }

  elapsedMs(): number {
    return this.now() - this.startedAt;
  }

  remainingMs(): number {
    return Math.max(0, this.limits.maxSeconds * 1000 - this.elapsedMs());
  }

  /** Counts one model call. */
  step(): void {
    this.steps++;
  }

  addUsage(usage: { inputTokens: number; outputTokens: number }): void {
    const add = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
    this.tokens += add(usage.inputTokens) + add(usage.outputTokens);
  }

  /** Which budget is used up, as an internal reason (`budget exhausted: …`), or undefined. */
  exhausted(): string | undefined {
    if (this.steps >= this.limits.maxSteps)
      return `budget exhausted: steps (${this.steps}/${this.limits.maxSteps})`;
    if (this.tokens >= this.limits.maxTokens)
      return `budget exhausted: tokens (${this.tokens}/${this.limits.maxTokens})`;
    if (this.remainingMs() <= 0 || this.controller.signal.aborted)
      return `budget exhausted: wall time (${this.limits.maxSeconds} s)`;
    return undefined;
  }

  /** Releases the wall-time timer. */
  dispose(): void {
    clearTimeout(this.timer);
  }
}
