import { intakeFromEnv } from '../../lib/ai/intake.ts';
import type { AppDeps } from '../../lib/app/deps.ts';
import { documentClient, eventBridgeClient } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { EventBridgePublisher, NoopPublisher } from '../../lib/aws/event-publisher.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { parsePriceTable } from '../../lib/domain/pricing.ts';
import { apiQuotas } from './quotas.ts';

let deps: AppDeps | undefined;

/** Adapters built once per Lambda container (or once per local gateway process). */
export function appDeps(): AppDeps {
  if (deps) return deps;
  const config = loadConfig();
  deps = {
    store: new DynamoRunStore(documentClient(), config.tableName),
    publisher: config.eventBusName
      ? new EventBridgePublisher(eventBridgeClient(), config.eventBusName)
      : new NoopPublisher(),
    intake: intakeFromEnv(),
    priceTable: parsePriceTable(config.priceTableJson),
    now: () => new Date().toISOString(),
    modelBudget: (sessionId) => apiQuotas().modelCall(sessionId),
  };
  return deps;
}

/** Test hook. */
export function setAppDeps(next: AppDeps | undefined): void {
  deps = next;
}
