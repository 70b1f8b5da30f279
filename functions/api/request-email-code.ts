import { requestEmailCode } from '../../lib/app/email-login.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { EmailCodeBodySchema } from '../../lib/domain/public-schemas.ts';
import { clientAddress } from '../shared/caller.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { loginDeps } from '../shared/login-deps.ts';
import { issueSession, readSession, sessionCookie } from '../shared/session.ts';

/**
 * POST /api/v1/sessions/email-code: mails a one-time sign-in code, bound to the calling session
 * (one is issued — cookie and `session_token` — when the caller has none: the code must be
 * entered in the same session). Always 202 `{ sent: true }` (whether or not the address has
 * runs); 429 `rate_limited` with Retry-After when over a limit.
 */
export const handler = apiHandler(
  async (event) => {
    const { email } = parse(EmailCodeBodySchema, event.body);
    const existing = await readSession(event as never);
    const issued = existing ? undefined : await issueSession();
    const session = existing ?? issued!.session;
    // Over a limit: RateLimitedError, answered by the shared error handler with Retry-After.
    const sent = await requestEmailCode(loginDeps(), email, {
      sessionId: session.sessionId,
      sourceIp: await clientAddress(event),
    });
    return json(
      202,
      { ...sent, ...(issued ? { session_token: issued.token } : {}) },
      issued ? { cookies: [sessionCookie(issued.token, loadConfig().cookieSecure)] } : {},
    );
  },
  { body: 'required' },
);
