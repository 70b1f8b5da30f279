import type { IntakeEngine } from '../domain/intake/engine.ts';
import { ModelIntake } from '../domain/intake/model-intake.ts';
import { OfflineIntake } from '../domain/intake/offline-intake.ts';
import { recipeCatalog } from '../domain/intake/recipe-catalog.ts';
import { log } from '../log.ts';
import { createModelClient, loadModelConfig, ModelConfigError } from './config.ts';

export const INTAKE_PROVIDERS = ['offline', 'bedrock', 'openai'] as const;
export type IntakeProvider = (typeof INTAKE_PROVIDERS)[number];

/**
 * The intake engine selected by `INTAKE_PROVIDER` (`offline` by default; `bedrock` needs
 * `BEDROCK_MODEL_ID`; `openai` needs `OPENAI_BASE_URL` + `OPENAI_MODEL`). When the worker's coder
 * is the offline recipe coder (`CODER` unset or `offline`), a model's spec must name a catalog
 * recipe. Misconfiguration throws at startup rather than failing per message.
 */
export function intakeFromEnv(env: NodeJS.ProcessEnv = process.env): IntakeEngine {
  const provider = (env.INTAKE_PROVIDER || 'offline').trim() as IntakeProvider;
  if (!INTAKE_PROVIDERS.includes(provider)) {
    throw new ModelConfigError(`INTAKE_PROVIDER must be one of ${INTAKE_PROVIDERS.join(', ')}`);
  }
  if (provider === 'offline') return new OfflineIntake(recipeCatalog);
  const config = loadModelConfig(env, provider);
  if (!config) throw new ModelConfigError(`no model configured for INTAKE_PROVIDER=${provider}`);
  return new ModelIntake({
    model: createModelClient(config),
    catalog: recipeCatalog,
    requireRecipe: !env.CODER || env.CODER === 'offline',
    onModelIssue: (issue, detail) =>
      log.warn('intake model issue; deterministic fallback used', { issue, ...detail }),
  });
}
