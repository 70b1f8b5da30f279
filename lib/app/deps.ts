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
}
