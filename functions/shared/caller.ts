import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Caller } from '../../lib/app/access.ts';
import { DomainError } from '../../lib/domain/errors.ts';
import { readSession } from './session.ts';

/** The authenticated visitor, or 401 when the request carries no valid session. */
export async function requireCaller(
  event: Pick<APIGatewayProxyEventV2, 'headers' | 'cookies'>,
): Promise<Caller> {
  const session = await readSession(event as APIGatewayProxyEventV2);
  if (!session) throw new DomainError('unauthenticated', 'Start a build run first or log in again.', 401);
  return session;
}
