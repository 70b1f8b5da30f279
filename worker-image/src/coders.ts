import { createModelClient } from '../../lib/ai/config.ts';
import type { BuildSpec } from '../../lib/domain/build-spec.ts';
import { detectHostPlatform } from '../../lib/verify/smoke-binary.ts';
import type { Coder } from './coder/coder.ts';
import { ExternalCommandCoder } from './coder/external-command-coder.ts';
import { ModelCoder } from './coder/model-coder.ts';
import { OfflineRecipeCoder } from './coder/offline-recipe-coder.ts';
import { workerProgramArgv } from './coder/self-check-command.ts';
import type { WorkerConfig } from './config.ts';
import { commandEnv } from './go-env.ts';
import { ARTIFACT_BUILDER_PROFILE } from './profile.ts';

/**
 * The coder named by `CODER`: `offline` (recipe catalog), `bedrock` / `openai` (the model-driven
 * coder over lib/ai), `command` (an external agent program).
 */
export function createCoder(
  config: Pick<WorkerConfig, 'coder' | 'recipesDir'> & Partial<Pick<WorkerConfig, 'coderSettings' | 'runId'>>,
  env: NodeJS.ProcessEnv = process.env,
): Coder {
  switch (config.coder) {
    case 'offline':
      return new OfflineRecipeCoder(config.recipesDir ? { recipesDir: config.recipesDir } : {});
    case 'bedrock':
    case 'openai': {
      const model = config.coderSettings?.model;
      if (!model) throw new Error(`CODER=${config.coder} has no model configuration`);
      return new ModelCoder({
        model: createModelClient(model),
        profile: ARTIFACT_BUILDER_PROFILE,
        commandEnv: coderCommandEnv(config.runId, env),
        budget: config.coderSettings!.budget,
        promptCache: config.coderSettings!.promptCache,
      });
    }
    case 'command': {
      const command = config.coderSettings?.command;
      if (!command) throw new Error('CODER=command has no CODER_COMMAND');
      return new ExternalCommandCoder({
        argv: command.argv,
        profile: ARTIFACT_BUILDER_PROFILE,
        commandEnv: coderCommandEnv(config.runId, env),
        maxSeconds: config.coderSettings!.budget.maxSeconds,
        passEnv: command.passEnv,
        baseEnv: command.passEnvValues,
        // The agent's self-check runs this very program (`self-check <file>`).
        selfCheckProgram: workerProgramArgv(),
      });
    }
  }
}

/**
 * The environment of the test/build commands a coder runs: the worker's allow-list (no AWS
 * credentials, no API keys). The coder's own build checks only the host platform (fast); the
 * worker's build afterwards builds every requested platform.
 */
export function coderCommandEnv(
  runId: string | undefined,
  base: NodeJS.ProcessEnv,
): (spec: BuildSpec) => NodeJS.ProcessEnv {
  const host = detectHostPlatform();
  return (spec) =>
    commandEnv(
      {
        runId: runId ?? 'run_local',
        artifactType: spec.artifactType,
        platforms: host ? [host] : spec.platforms,
      },
      base,
    );
}
