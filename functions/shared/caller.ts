import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Caller } from '../../lib/app/access.ts';
import { DomainError } from '../../lib/domain/errors.ts';
import { ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER } from './origin-headers.ts';
import { originVerifySecret } from './secrets.ts';
import { readSession } from './session.ts';

/** The authenticated visitor, or 401 when the request carries no valid session. */
export async function requireCaller(
  event: Pick<APIGatewayProxyEventV2, 'headers' | 'cookies'>,
): Promise<Caller> {
  const session = await readSession(event as APIGatewayProxyEventV2);
  if (!session) throw new DomainError('unauthenticated', 'Start a build run first or log in again.', 401);
  return session;
}

/**
 * The IP address of a viewer-address value: a bare address (what the portal distribution sends),
 * or `CloudFront-Viewer-Address` style `ip:port` — IPv4, `[IPv6]:port`, or IPv6 with the port
 * after its last colon. A value that is a valid address as a whole is taken whole (so an
 * unbracketed `2001:db8::1:443` stays that address). Anything else → `undefined`.
 */
export function viewerIp(value: string | undefined): string | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(v);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? bracketed[1]!.toLowerCase() : undefined;
  if (isIP(v)) return v.toLowerCase();
  const port = v.lastIndexOf(':');
  if (port <= 0 || !/^\d{1,5}$/.test(v.slice(port + 1))) return undefined;
  const ip = v.slice(0, port);
  return isIP(ip) ? ip.toLowerCase() : undefined;
}

function headerOf(headers: Record<string, string | undefined> | undefined, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The address per-source limits count by. On AWS the API is reached through the portal's
 * CloudFront distribution, so the socket address (`sourceIp`) is the edge's, shared by everyone
 * behind it: there the viewer's own address (the viewer-address header the distribution sets) is
 * used — but only when the request also carries the origin-verify header with the stack's secret,
 * so a caller of the execute-api URL cannot pick its own address. Otherwise (local stack, direct
 * calls, no secret configured, a malformed address) the socket address.
 */
export async function clientAddress(
  event: Pick<APIGatewayProxyEventV2, 'headers'> & {
    requestContext?: { http?: { sourceIp?: string } };
  },
): Promise<string | undefined> {
  const socket = event.requestContext?.http?.sourceIp;
  const given = headerOf(event.headers, ORIGIN_VERIFY_HEADER);
  if (!given) return socket;
  const expected = await originVerifySecret();
  if (!expected || !sameSecret(given, expected)) return socket;
  return viewerIp(headerOf(event.headers, VIEWER_ADDRESS_HEADER)) ?? socket;
}
