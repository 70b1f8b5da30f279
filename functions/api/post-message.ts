import { postMessage } from '../../lib/app/post-message.ts';
import { toPublicMessage, toPublicRun } from '../../lib/domain/projection.ts';
import { MessageBodySchema } from '../../lib/domain/public-schemas.ts';
import { clientAddress, requireCaller } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { apiQuotas } from '../shared/quotas.ts';

/**
 * POST /api/v1/build-runs/{run_id}/messages: a visitor message and the assistant's reply. Over the
 * per-session or per-source message quota: 429 `rate_limited` with Retry-After.
 */
export const handler = apiHandler(
  async (event) => {
    const caller = await requireCaller(event);
    const { text } = parse(MessageBodySchema, event.body);
    await apiQuotas().message(caller.sessionId, await clientAddress(event));
    const { run, reply } = await postMessage(appDeps(), caller, event.pathParameters?.run_id ?? '', text);
    return json(200, { run: toPublicRun(run), reply: toPublicMessage(reply) });
  },
  { body: 'required' },
);
