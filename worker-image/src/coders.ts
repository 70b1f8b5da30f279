import type { Coder } from './coder/coder.ts';
import { OfflineRecipeCoder } from './coder/offline-recipe-coder.ts';
import type { WorkerConfig } from './config.ts';

/** The coder named by `CODER` (only `offline` today; model-driven coders plug in here). */
export function createCoder(config: Pick<WorkerConfig, 'coder' | 'recipesDir'>): Coder {
  switch (config.coder) {
    case 'offline':
      return new OfflineRecipeCoder(config.recipesDir ? { recipesDir: config.recipesDir } : {});
  }
}
