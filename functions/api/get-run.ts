import { loadOwnedRun } from '../../lib/app/access.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json } from '../shared/http.ts';
import { paymentMethods } from '../shared/payments.ts';

/** GET /api/v1/build-runs/{run_id}: the public-safe state with the conversation. */
export const handler = apiHandler(async (event) => {
  const caller = await requireCaller(event);
  const { store } = appDeps();
  const run = await loadOwnedRun(store, event.pathParameters?.run_id ?? '', caller);
  const messages = await store.listMessages(run.runId);
  return json(200, { run: toPublicRun(run, messages, { paymentMethods: paymentMethods() }) });
});
