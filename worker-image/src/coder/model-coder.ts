import { lstat, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import {
  type ModelClient,
  ModelError,
  type ModelMessage,
  type ModelResponse,
  type ToolSpec,
} from '../../../lib/ai/model.ts';
import { checksFor } from '../../../lib/domain/acceptance.ts';
import { type BuildSpec, BuildSpecSchema, DEFAULT_PLATFORMS } from '../../../lib/domain/build-spec.ts';
import type { WorkerProfile } from '../profile.ts';
import { AttemptBudget, type CoderBudgetLimits, DEFAULT_CODER_BUDGET } from './budget.ts';
import type { Coder, CoderInput, CoderReport, CoderResult } from './coder.ts';
import { buildSystemPrompt, buildTaskMessage } from './prompt.ts';
import { selfCheck } from './run-checks.ts';
import { coderToolSpecs, type ToolLimits, WorktreeTools } from './tools.ts';

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
  /** Ask the provider to cache the system prompt and tool specs (`CODER_PROMPT_CACHE`; default on). */
  promptCache?: boolean;
}

const DEFAULT_MAX_OUTPUT_TOKENS = 8192;
const DEFAULT_MAX_IDLE_TURNS = 3;
const MAX_TOOL_CALLS_PER_TURN = 16;
const NUDGE =
  'Continue by calling the tools. When run_tests and run_build pass after your last change, call finish with a one-sentence summary (stored internally; the customer does not see it).';

class CoderStop extends Error {}

export class ModelCoder implements Coder {
  readonly name: string;
  readonly reportsProgress = true;

  constructor(private readonly options: ModelCoderOptions) {
    this.name = `model (${options.model.id})`;
  }

  async code(input: CoderInput): Promise<CoderResult> {
    const parsed = BuildSpecSchema.safeParse(input.spec);
    if (!parsed.success) return fail(input, 'the build spec is invalid');
    const spec = parsed.data;
    const budget = new AttemptBudget(this.options.budget ?? DEFAULT_CODER_BUDGET);
    const stats = { toolCalls: 0, progressReports: 0 };
    const report = (stopped: string): CoderReport => ({
      kind: 'model',
      coder: this.name,
      steps: budget.usedSteps,
      toolCalls: stats.toolCalls,
      tokens: { ...budget.tokenCounts, budget: budget.usedTokens },
      limits: { ...budget.limits },
      left: budget.left(),
      seconds: Math.round(budget.elapsedMs() / 1000),
      progressReports: stats.progressReports,
      stopped: stopped.slice(0, 300),
    });
    const failed = (reason: string): CoderResult => ({
      ...fail(input, reason, budget),
      report: report(reason),
    });
    try {
      const worktree = await openWorktree(input.worktree);
      const commandEnv = this.options.commandEnv(spec);
      const buildNote = platformNote(spec, commandEnv);
      const checks = checksFor(spec.checks ?? [], spec.artifactType);
      const tools = new WorktreeTools({
        worktree,
        testCommands: this.options.profile.testCommands,
        buildCommands: this.options.profile.buildCommands,
        env: commandEnv,
        log: input.log,
        remainingMs: () => budget.remainingMs(),
        features: spec.features,
        progress: (r) => {
          stats.progressReports++;
          input.progress?.(r);
        },
        ...(buildNote ? { buildNote } : {}),
        ...(checks.length > 0 && {
          runChecks: () =>
            selfCheck({
              distDir: path.join(worktree, 'dist'),
              checks,
              artifactType: spec.artifactType,
              ...(input.sandbox && { runAs: { uid: input.sandbox.uid, gid: input.sandbox.gid } }),
            }),
        }),
        ...(this.options.toolLimits ? { limits: this.options.toolLimits } : {}),
        ...(input.sandbox && { sandbox: input.sandbox }),
      });
      const agents = await readFile(path.join(worktree, 'AGENTS.md'), 'utf8').catch(() => '');
      const system = buildSystemPrompt({
        agents,
        rules: this.options.profile.rules,
        testCommands: this.options.profile.testCommands,
        buildCommands: this.options.profile.buildCommands,
        budget: budget.limits,
      });
      const toolSpecs = coderToolSpecs(spec.features.length, { runChecks: checks.length > 0 });
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
        if (spent) return failed(spent);
        const response = await this.call(system, messages, toolSpecs, budget);
        budget.step();
        budget.addUsage(response.usage);
        input.log(
          `model: step ${budget.usedSteps}, ${response.toolCalls.length} tool call(s), stop ${response.stopReason}, ${tokenLine(budget)}`,
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
            return failed(`the model stopped without finishing (${idle} turns without a tool call)`);
          }
          messages.push({ role: 'user', content: `${NUDGE}\n${budgetLeftLine(budget)}` });
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
          stats.toolCalls++;
          const outcome = await tools.execute(call);
          messages.push({
            role: 'tool',
            toolCallId: call.id,
            name: call.name,
            // What is left, in every result: the model plans with the budget it can see.
            content: outcome.finished ? outcome.content : `${outcome.content}\n${budgetLeftLine(budget)}`,
            ...(outcome.isError ? { isError: true } : {}),
          });
          if (outcome.finished) finished = outcome.finished.summary;
        }
        if (finished !== undefined) {
          input.log(`model: finished after ${budget.usedSteps} step(s), ${tokenLine(budget)}`);
          return { ok: true, summary: finished, report: report('finished') };
        }
      }
    } catch (err) {
      if (err instanceof CoderStop) return failed(err.message);
      if (err instanceof ModelError) return failed(`model error: ${err.message}`);
      return failed(`unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      budget.dispose();
    }
  }

  private async call(
    system: string,
    messages: ModelMessage[],
    tools: ToolSpec[],
    budget: AttemptBudget,
  ): Promise<ModelResponse> {
    try {
      return await this.options.model.converse({
        system,
        messages,
        tools,
        promptCache: this.options.promptCache ?? true,
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

/** Appended to every tool result: what is left of the attempt's budget. */
export function budgetLeftLine(budget: AttemptBudget): string {
  const left = budget.left();
  return `[budget left: ${left.steps} steps, ${left.tokens} tokens, ${left.seconds} s]`;
}

function tokenLine(budget: AttemptBudget): string {
  const t = budget.tokenCounts;
  return `tokens ${budget.usedTokens} (input ${t.input}, cached ${t.cachedInput}, cache write ${t.cacheWrite}, output ${t.output})`;
}

/**
 * What the coder's own build makes versus what the final build makes: the coder's commands build
 * the host platform only (`PLATFORMS` of its environment); the worker's build makes them all.
 */
export function platformNote(spec: BuildSpec, env: NodeJS.ProcessEnv): string | undefined {
  if (spec.artifactType === 'web') return undefined;
  const quoted = spec.platforms.length > 0 ? spec.platforms : DEFAULT_PLATFORMS;
  const built = (env.PLATFORMS ?? '').split(/[\s,]+/).filter(Boolean);
  if (built.length === 0 || quoted.every((p) => built.includes(p))) {
    return `Platforms built: ${quoted.join(', ')} (all requested).`;
  }
  return `Note: this build made only ${built.join(', ')} (this machine). The worker's final build after finish makes every requested platform (${quoted.join(', ')}) from the same code; the other binaries are not missing.`;
}

function fail(input: CoderInput, reason: string, budget?: AttemptBudget): CoderResult {
  const used = budget
    ? ` (${budget.usedSteps} steps, ${tokenLine(budget)}, ${Math.round(budget.elapsedMs() / 1000)} s)`
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
