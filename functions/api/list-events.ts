import { listPublicEvents } from '../../lib/app/list-events.ts';
import { EventsQuerySchema } from '../../lib/domain/public-schemas.ts';
import { requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json, parse } from '../shared/http.ts';

/** GET /api/v1/build-runs/{run_id}/events?after=N&wait=S: public progress after a cursor (long-poll). */
export const handler = apiHandler(async (event) => {
  const caller = await requireCaller(event);
  const query = parse(EventsQuerySchema, event.queryStringParameters ?? {});
  const { events, nextAfter } = await listPublicEvents(
    appDeps(),
    caller,
    event.pathParameters?.run_id ?? '',
    query.after,
    query.wait,
  );
  return json(200, { events, next_after: nextAfter });
});
