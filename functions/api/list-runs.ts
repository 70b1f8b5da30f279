import { listMyRuns } from '../../lib/app/list-my-runs.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json } from '../shared/http.ts';
import { loginDeps } from '../shared/login-deps.ts';

/** GET /api/v1/build-runs: the caller's runs (session and verified email), newest first, no messages. */
export const handler = apiHandler(async (event) => {
  const caller = await requireCaller(event);
  const runs = await listMyRuns({ store: appDeps().store, runIndex: loginDeps().runIndex }, caller);
  return json(200, { runs: runs.map((r) => toPublicRun(r)) });
});
