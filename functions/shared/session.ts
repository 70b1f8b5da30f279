import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { jwtVerify, SignJWT } from 'jose';
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

const key = async () => new TextEncoder().encode(await sessionSecret());

/**
 * Signs a session token. `email` (only after a verified one-time code) adds the verified address
 * as the `email` claim; `sessionId` keeps an existing session's id (its runs stay accessible).
 */
export async function issueSession(
  opts: { email?: string; sessionId?: string } = {},
): Promise<{ session: VisitorSession; token: string }> {
  const sessionId = opts.sessionId ?? newSessionId();
  const token = await new SignJWT(opts.email ? { email: opts.email } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sessionId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${SESSION_TTL_SECONDS}s`)
    .sign(await key());
  return { session: { sessionId, ...(opts.email ? { email: opts.email } : {}) }, token };
}

export async function verifySessionToken(token: string): Promise<VisitorSession | undefined> {
  try {
    const { payload } = await jwtVerify(token, await key(), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['HS256'],
    });
    if (typeof payload.sub !== 'string' || !SESSION_ID_PATTERN.test(payload.sub)) return undefined;
    const email = typeof payload.email === 'string' ? payload.email : undefined;
    return { sessionId: payload.sub, ...(email ? { email } : {}) };
  } catch {
    return undefined;
  }
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
