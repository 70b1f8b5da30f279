import type { IntakeEngine } from '../domain/intake/engine.ts';
import type { EventPublisher, RunStore } from '../domain/ports.ts';
import type { PriceTable } from '../domain/pricing.ts';

/** What the use cases need, injected so they run the same on AWS, locally and in tests. */
export interface AppDeps {
  store: RunStore;
  publisher: EventPublisher;
  intake: IntakeEngine;
  priceTable: PriceTable;
  now: () => string;
  /**
   * Counts one model call against the session's daily budget; false when it is spent (the intake
   * then answers with its model-free rules). Unset: no budget (tests, the offline intake).
   */
  modelBudget?: (sessionId: string) => Promise<boolean>;
}
