import { verifyEmailCode } from '../../lib/app/email-login.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { VerifyCodeBodySchema } from '../../lib/domain/public-schemas.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { loginDeps } from '../shared/login-deps.ts';
import { issueSession, readSession, sessionCookie } from '../shared/session.ts';

/**
 * POST /api/v1/sessions/verify: checks a one-time code and issues a new session token carrying
 * the verified email (cookie and `session_token`). The code must come from the session that
 * requested it, which keeps its session id, so the runs it already has stay its own. Wrong, expired and reused codes: 400 `invalid_code`.
 */
export const handler = apiHandler(
  async (event) => {
    const { email, code } = parse(VerifyCodeBodySchema, event.body);
    // The code is bound to the session that asked for it: without that session it is invalid.
    const existing = await readSession(event as never);
    const verified = await verifyEmailCode(loginDeps(), email, code, existing);
    const { token } = await issueSession({ email: verified.email, sessionId: existing?.sessionId });
    return json(
      200,
      { session_token: token },
      { cookies: [sessionCookie(token, loadConfig().cookieSecure)] },
    );
  },
  { body: 'required' },
);
