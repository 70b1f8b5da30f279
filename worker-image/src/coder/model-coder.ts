import { lstat, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import {
  type ModelClient,
  ModelError,
  type ModelMessage,
  type ModelResponse,
} from '../../../lib/ai/model.ts';
import { BuildSpecSchema } from '../../../lib/domain/build-spec.ts';
import type { WorkerProfile } from '../profile.ts';
import { AttemptBudget, type CoderBudgetLimits, DEFAULT_CODER_BUDGET } from './budget.ts';
import type { Coder, CoderInput, CoderResult } from './coder.ts';
import { buildSystemPrompt, buildTaskMessage } from './prompt.ts';
import { TOOL_SPECS, type ToolLimits, WorktreeTools } from './tools.ts';

/**
 * The model-driven coder: a tool-use loop against any {@link ModelClient} (Bedrock Converse or an
 * OpenAI-compatible endpoint). The model reads and writes the worktree only through the confined
 * tools (`tools.ts`), runs only the template's test and build commands and ends with `finish`.
 * Steps, tokens and wall time are budgeted per attempt. Whatever it does, the worker runs the
 * tests and the build again and the verification gate decides.
 *
 * Failures are `coder_failed` with an internal reason (`budget exhausted: …`, `model error: …`);
 * the customer only sees the fixed sentence for the code.
 */

export interface ModelCoderOptions {
  model: ModelClient;
  /** The template's commands and rules (the worker profile). */
  profile: Pick<WorkerProfile, 'testCommands' | 'buildCommands' | 'rules'>;
  /** Environment of the test/build commands for a spec (the worker's allow-list). */
  commandEnv: (spec: CoderInput['spec']) => NodeJS.ProcessEnv;
  budget?: CoderBudgetLimits;
  toolLimits?: Partial<ToolLimits>;
  /** Output tokens per model call. */
  maxOutputTokens?: number;
  /** Consecutive answers without a tool call before the attempt is given up. */
  maxIdleTurns?: number;
  /** Delimiter nonce for the prompt (tests). */
  nonce?: string;
}

const DEFAULT_MAX_OUTPUT_TOKENS = 8192;
const DEFAULT_MAX_IDLE_TURNS = 3;
const MAX_TOOL_CALLS_PER_TURN = 16;
const NUDGE =
  'Continue by calling the tools. When run_tests and run_build pass after your last change, call finish with a one-sentence summary for the customer.';

class CoderStop extends Error {}

export class ModelCoder implements Coder {
  readonly name: string;

  constructor(private readonly options: ModelCoderOptions) {
    this.name = `model (${options.model.id})`;
  }

  async code(input: CoderInput): Promise<CoderResult> {
    const parsed = BuildSpecSchema.safeParse(input.spec);
    if (!parsed.success) return fail(input, 'the build spec is invalid');
    const spec = parsed.data;
    const budget = new AttemptBudget(this.options.budget ?? DEFAULT_CODER_BUDGET);
    try {
      const worktree = await openWorktree(input.worktree);
      const tools = new WorktreeTools({
        worktree,
        testCommands: this.options.profile.testCommands,
        buildCommands: this.options.profile.buildCommands,
        env: this.options.commandEnv(spec),
        log: input.log,
        remainingMs: () => budget.remainingMs(),
        ...(this.options.toolLimits ? { limits: this.options.toolLimits } : {}),
        ...(input.sandbox && { sandbox: input.sandbox }),
      });
      const agents = await readFile(path.join(worktree, 'AGENTS.md'), 'utf8').catch(() => '');
      const system = buildSystemPrompt({
        agents,
        rules: this.options.profile.rules,
        testCommands: this.options.profile.testCommands,
        buildCommands: this.options.profile.buildCommands,
      });
      const listing = await tools.listFiles('.');
      const messages: ModelMessage[] = [
        {
          role: 'user',
          content: buildTaskMessage({
            spec,
            attempt: input.attempt,
            previousFailure: input.previousFailure,
            listing,
            ...(input.revision && { revision: input.revision }),
            ...(this.options.nonce ? { nonce: this.options.nonce } : {}),
          }),
        },
      ];
      input.log(
        `model: ${this.options.model.id}, attempt ${input.attempt}${input.previousFailure ? ' (repair)' : ''}, budget ${budget.limits.maxSteps} steps / ${budget.limits.maxTokens} tokens / ${budget.limits.maxSeconds} s`,
      );
      let idle = 0;
      for (;;) {
        const spent = budget.exhausted();
        if (spent) return fail(input, spent, budget);
        const response = await this.call(system, messages, budget);
        budget.step();
        budget.addUsage(response.usage);
        input.log(
          `model: step ${budget.usedSteps}, ${response.toolCalls.length} tool call(s), stop ${response.stopReason}, tokens ${budget.usedTokens}`,
        );
        const calls = response.toolCalls.slice(0, MAX_TOOL_CALLS_PER_TURN);
        messages.push({
          role: 'assistant',
          content: response.text,
          ...(calls.length > 0 ? { toolCalls: calls } : {}),
        });
        if (calls.length === 0) {
          idle++;
          if (idle >= (this.options.maxIdleTurns ?? DEFAULT_MAX_IDLE_TURNS)) {
            return fail(
              input,
              `the model stopped without finishing (${idle} turns without a tool call)`,
              budget,
            );
          }
          messages.push({ role: 'user', content: NUDGE });
          continue;
        }
        idle = 0;
        let finished: string | undefined;
        for (const call of calls) {
          if (finished !== undefined || budget.signal.aborted) {
            messages.push({
              role: 'tool',
              toolCallId: call.id,
              name: call.name,
              content: 'Error: not run',
              isError: true,
            });
            continue;
          }
          const outcome = await tools.execute(call);
          messages.push({
            role: 'tool',
            toolCallId: call.id,
            name: call.name,
            content: outcome.content,
            ...(outcome.isError ? { isError: true } : {}),
          });
          if (outcome.finished) finished = outcome.finished.summary;
        }
        if (finished !== undefined) {
          input.log(`model: finished after ${budget.usedSteps} step(s), ${budget.usedTokens} tokens`);
          return { ok: true, summary: finished };
        }
      }
    } catch (err) {
      if (err instanceof CoderStop) return fail(input, err.message, budget);
      if (err instanceof ModelError) return fail(input, `model error: ${err.message}`, budget);
      return fail(input, `unexpected error: ${err instanceof Error ? err.message : String(err)}`, budget);
    } finally {
      budget.dispose();
    }
  }

  private async call(
    system: string,
    messages: ModelMessage[],
    budget: AttemptBudget,
  ): Promise<ModelResponse> {
    try {
      return await this.options.model.converse({
        system,
        messages,
        tools: [...TOOL_SPECS],
        toolChoice: 'auto',
        maxTokens: this.options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
        temperature: 0,
        signal: budget.signal,
      });
    } catch (err) {
      if (budget.signal.aborted) throw new CoderStop(budget.exhausted() ?? 'budget exhausted: wall time');
      throw err;
    }
  }
}

function fail(input: CoderInput, reason: string, budget?: AttemptBudget): CoderResult {
  const used = budget
    ? ` (${budget.usedSteps} steps, ${budget.usedTokens} tokens, ${Math.round(budget.elapsedMs() / 1000)} s)`
    : '';
  input.log(`model: ${reason}${used}`);
  return { ok: false, code: 'coder_failed', reason };
}

async function openWorktree(dir: string): Promise<string> {
  if (!path.isAbsolute(dir)) throw new Error('worktree path must be absolute');
  const real = await realpath(dir);
  if (!(await lstat(real)).isDirectory()) throw new Error('worktree is not a directory');
  return real;
}
