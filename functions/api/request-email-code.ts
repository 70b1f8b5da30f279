import { requestEmailCode } from '../../lib/app/email-login.ts';
import { EmailCodeBodySchema } from '../../lib/domain/public-schemas.ts';
import { apiHandler, json, parse } from '../shared/http.ts';
import { loginDeps } from '../shared/login-deps.ts';

/**
 * POST /api/v1/sessions/email-code: mails a one-time sign-in code. Always 202 `{ sent: true }`
 * (whether or not the address has runs); 429 `rate_limited` with Retry-After when over a limit.
 */
export const handler = apiHandler(
  async (event) => {
    const { email } = parse(EmailCodeBodySchema, event.body);
    // Over a limit: RateLimitedError, answered by the shared error handler with Retry-After.
    return json(202, await requestEmailCode(loginDeps(), email, event.requestContext?.http?.sourceIp));
  },
  { body: 'required' },
);
