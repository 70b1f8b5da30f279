import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { signToken, verifyToken } from '../../lib/aws/signed-token.ts';
import { newSessionId, SESSION_ID_PATTERN } from '../../lib/domain/ids.ts';
import { sessionSecret } from './secrets.ts';

export const SESSION_COOKIE = 'bus_session';
export const SESSION_TTL_SECONDS = 30 * 24 * 3600;
const ISSUER = 'busdk-artifact-builder';
const AUDIENCE = 'visitor';

export interface VisitorSession {
  sessionId: string;
  /** A verified email, when the visitor logged in by email (later issue). */
  email?: string;
}

/**
 * Signs a session token. `email` (only after a verified one-time code) adds the verified address
 * as the `email` claim; `sessionId` keeps an existing session's id (its runs stay accessible).
 */
export async function issueSession(
  opts: { email?: string; sessionId?: string } = {},
): Promise<{ session: VisitorSession; token: string }> {
  const sessionId = opts.sessionId ?? newSessionId();
  const token = await signToken(
    opts.email ? { email: opts.email } : {},
    sessionId,
    AUDIENCE,
    await sessionSecret(),
    SESSION_TTL_SECONDS,
    ISSUER,
  );
  return { session: { sessionId, ...(opts.email ? { email: opts.email } : {}) }, token };
}

export async function verifySessionToken(token: string): Promise<VisitorSession | undefined> {
  const claims = await verifyToken(token, AUDIENCE, await sessionSecret(), ISSUER);
  if (!claims?.sub || !SESSION_ID_PATTERN.test(claims.sub)) return undefined;
  return { sessionId: claims.sub, ...(claims.email ? { email: claims.email } : {}) };
}

/** Reads the visitor session from `Authorization: Bearer …` or the session cookie. */
export async function readSession(event: APIGatewayProxyEventV2): Promise<VisitorSession | undefined> {
  const auth = event.headers?.authorization ?? event.headers?.Authorization;
  const bearer = auth?.match(/^Bearer\s+([A-Za-z0-9._-]{1,4096})$/)?.[1];
  if (bearer) return verifySessionToken(bearer);
  const cookies = event.cookies ?? splitCookieHeader(event.headers?.cookie);
  for (const c of cookies) {
    const eq = c.indexOf('=');
    if (eq > 0 && c.slice(0, eq).trim() === SESSION_COOKIE) return verifySessionToken(c.slice(eq + 1).trim());
  }
  return undefined;
}

function splitCookieHeader(header: string | undefined): string[] {
  return header ? header.split(';').map((s) => s.trim()) : [];
}

export function sessionCookie(token: string, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${SESSION_TTL_SECONDS}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
