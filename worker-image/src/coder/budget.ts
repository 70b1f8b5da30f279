import type { ModelUsage } from '../../../lib/ai/model.ts';

/**
 * Per-attempt budgets of the model-driven and external coders: model steps (one `converse` call
 * each), budget tokens and wall time. Whichever runs out first ends the attempt with
 * `coder_failed` and an internal `budget exhausted: …` reason; the customer only ever sees the
 * fixed failure sentence for the code.
 *
 * Budget tokens follow what the providers bill, summed over the attempt's usage reports:
 * uncached input + output + cache writes count 1 each, input read from the prompt cache counts
 * {@link CACHED_INPUT_WEIGHT} (Bedrock and OpenAI bill cached reads at a tenth to a half of the
 * input rate). The four counts are kept apart for the logs, `result.json` and `bus-build show`.
 *
 * Defaults: a measured small tool (a CSV→JSON web page + CLI, OpenAI wire format) took 8 steps and
 * 132,613 raw tokens on its first attempt; 30 steps / 600,000 budget tokens leave room for that
 * plus a repair round within one attempt even with no cache hit at all (~21,500 tokens a step once
 * the files are in context, so the two limits end at about the same step), and far more with
 * caching. Checked with `npm run eval` through the model relay (a language model answering the
 * coder's requests, OpenAI wire format, no prompt cache; tokens estimated as characters / 4):
 * `roman-numerals` (binary, two platforms, 6 checks) verified on the first attempt in 4 steps,
 * 30,238 input + 2,639 output tokens, 106 s, the request growing from 16k to 41k characters.
 * Without a cache the token budget ends first on a long repair loop (15–25 steps of 60–120k
 * characters); re-size from `npm run eval` against the deployed model (README, "Eval").
 */

export interface CoderBudgetLimits {
  maxSteps: number;
  maxTokens: number;
  maxSeconds: number;
}

export const DEFAULT_CODER_BUDGET: Readonly<CoderBudgetLimits> = Object.freeze({
  maxSteps: 30,
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

/** Weight of an input token read from the prompt cache in the token budget. */
export const CACHED_INPUT_WEIGHT = 0.1;

/** The attempt's usage by kind, as the providers reported it. */
export interface TokenCounts {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
}

/** What is left of a budget (never negative). */
export interface BudgetLeft {
  steps: number;
  tokens: number;
  seconds: number;
}

/** The running budget of one attempt. */
export class AttemptBudget {
  private steps = 0;
  private readonly counts: TokenCounts = { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 };
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

  /** Budget tokens used (see the weighting above). */
  get usedTokens(): number {
    const c = this.counts;
    return c.input + c.output + c.cacheWrite + Math.ceil(c.cachedInput * CACHED_INPUT_WEIGHT);
  }

  /** Tokens by kind. */
  get tokenCounts(): TokenCounts {
    return { ...this.counts };
  }

  left(): BudgetLeft {
    return {
      steps: Math.max(0, this.limits.maxSteps - this.steps),
      tokens: Math.max(0, this.limits.maxTokens - this.usedTokens),
      seconds: Math.floor(this.remainingMs() / 1000),
    };
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

  addUsage(usage: ModelUsage): void {
    const add = (n: number | undefined) =>
      n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
    this.counts.input += add(usage.inputTokens);
    this.counts.output += add(usage.outputTokens);
    this.counts.cachedInput += add(usage.cachedInputTokens);
    this.counts.cacheWrite += add(usage.cacheWriteInputTokens);
  }

  /** Which budget is used up, as an internal reason (`budget exhausted: …`), or undefined. */
  exhausted(): string | undefined {
    if (this.steps >= this.limits.maxSteps)
      return `budget exhausted: steps (${this.steps}/${this.limits.maxSteps})`;
    if (this.usedTokens >= this.limits.maxTokens)
      return `budget exhausted: tokens (${this.usedTokens}/${this.limits.maxTokens})`;
    if (this.remainingMs() <= 0 || this.controller.signal.aborted)
      return `budget exhausted: wall time (${this.limits.maxSeconds} s)`;
    return undefined;
  }

  /** Releases the wall-time timer. */
  dispose(): void {
    clearTimeout(this.timer);
  }
}
