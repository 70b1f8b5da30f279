import { Quotas } from '../../lib/app/quotas.ts';
import { documentClient } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { DynamoLoginStore } from '../../lib/aws/login-store.ts';
import { quotasFromEnv } from '../../lib/domain/quotas.ts';

let quotas: Quotas | undefined;

/**
 * The quotas on anonymous use with their DynamoDB counters (`RATE#…` items in the run table),
 * limits from the environment (`RUNS_PER_SESSION_PER_HOUR` …), built once per container.
 */
export function apiQuotas(): Quotas {
  quotas ??= new Quotas(
    new DynamoLoginStore(documentClient(), loadConfig().tableName),
    quotasFromEnv(process.env),
  );
  return quotas;
}

/** Test hook. */
export function setApiQuotas(next: Quotas | undefined): void {
  quotas = next;
}
