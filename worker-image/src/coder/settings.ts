import { loadModelConfig, type ModelConfig } from '../../../lib/ai/config.ts';
import { type CoderBudgetLimits, loadCoderBudget } from './budget.ts';
import { parseCoderCommand, parsePassEnv } from './external-command-coder.ts';

/**
 * The configuration of the model-driven and external coders, read from the worker environment
 * once at start (by `config.ts`). Throws a plain Error with a message naming the variable.
 *
 * - `CODER_MAX_STEPS`, `CODER_MAX_TOKENS`, `CODER_MAX_SECONDS`: per-attempt budgets.
 * - `CODER_PROMPT_CACHE`: `on` (default) or `off` — Bedrock cache points after the system prompt
 *   and the tool specs (turn off for a model without prompt caching).
 * - `CODER=bedrock`: `BEDROCK_MODEL_ID` (+ `BEDROCK_REGION`/`AWS_REGION`); `CODER=openai`:
 *   `OPENAI_BASE_URL`, `OPENAI_MODEL` (+ `OPENAI_API_KEY`) — see lib/ai/config.ts.
 * - `CODER=command`: `CODER_COMMAND` (JSON argv array or a safely split string) and
 *   `CODER_COMMAND_ENV` (names of extra variables the agent receives, e.g. its API key).
 */
export interface CoderSettings {
  budget: CoderBudgetLimits;
  promptCache: boolean;
  model?: ModelConfig;
  command?: { argv: string[]; passEnv: string[]; passEnvValues: Record<string, string> };
}

export function loadCoderSettings(env: NodeJS.ProcessEnv, coder: string): CoderSettings {
  const cache = env.CODER_PROMPT_CACHE?.trim().toLowerCase() || 'on';
  if (cache !== 'on' && cache !== 'off') throw new Error('CODER_PROMPT_CACHE must be on or off');
  const settings: CoderSettings = { budget: loadCoderBudget(env), promptCache: cache === 'on' };
  if (coder === 'bedrock' || coder === 'openai') {
    const model = loadModelConfig(env, coder);
    if (!model) throw new Error(`CODER=${coder} needs a model configuration`);
    settings.model = model;
  }
  if (coder === 'command') {
    const raw = env.CODER_COMMAND;
    if (!raw?.trim()) throw new Error('CODER_COMMAND is required for CODER=command');
    const argv = parseCoderCommand(raw);
    const passEnv = parsePassEnv(env.CODER_COMMAND_ENV);
    const passEnvValues: Record<string, string> = {};
    for (const name of passEnv) {
      const value = env[name];
      if (value !== undefined) passEnvValues[name] = value;
    }
    settings.command = { argv, passEnv, passEnvValues };
  }
  return settings;
}
