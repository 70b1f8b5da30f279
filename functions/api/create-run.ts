import { createRun } from '../../lib/app/create-run.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { toPublicRun } from '../../lib/domain/projection.ts';
import { CreateRunBodySchema } from '../../lib/domain/public-schemas.ts';
import { clientAddress } from '../shared/caller.ts';
import { appDeps } from '../shared/deps.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { loginDeps } from '../shared/login-deps.ts';
import { apiQuotas } from '../shared/quotas.ts';
import { issueSession, readSession, sessionCookie } from '../shared/session.ts';

/**
 * POST /api/v1/build-runs: starts a run; issues a visitor session when the caller has none. Over
 * the per-source or per-session run quota: 429 `rate_limited` with Retry-After.
 */
export const handler = apiHandler(
  async (event) => {
    parse(CreateRunBodySchema, event.body);
    const existing = await readSession(event as never);
    await apiQuotas().runCreation(existing?.sessionId, await clientAddress(event));
    const issued = existing ? undefined : await issueSession();
    const session = existing ?? issued!.session;
    const run = await createRun(appDeps(), session, loginDeps().runIndex);
    return json(
      201,
      { run: toPublicRun(run, []), ...(issued ? { session_token: issued.token } : {}) },
      issued ? { cookies: [sessionCookie(issued.token, loadConfig().cookieSecure)] } : {},
    );
  },
  { body: 'optional' },
);
