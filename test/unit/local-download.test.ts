import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { resetSecretCache } from '../../functions/shared/secrets.ts';
import { resetClients } from '../../lib/aws/clients.ts';
import { signLocalDownload } from '../../lib/aws/download-links.ts';
import { apiEvent, context, type Result } from '../support/api-event.ts';

/** GET /api/v1/downloads/{token} (local stack): the gateway-served, server-signed download link. */
const SECRET = 'unit-test-secret-unit-test-secret';
process.env.SESSION_SECRET = SECRET;
process.env.LOG_LEVEL = 'silent';
process.env.ARTIFACTS_BUCKET = 'bus-build-artifacts';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';

const { handler } = await import('../../functions/api/local-download.ts');
const s3 = mockClient(S3Client);
const RUN = 'run_abcdefghijklmnopqrstuvwxyz';
const KEY = `runs/${RUN}/tool-linux/tip-calculator`;

async function get(token: string): Promise<Result> {
  const event = apiEvent({
    method: 'GET',
    path: `/api/v1/downloads/${token}`,
    routeKey: 'GET /api/v1/downloads/{token}',
    pathParameters: { token },
  });
  return (await handler(event, context)) as Result;
}

const token = () =>
  signLocalDownload({ key: KEY, fileName: 'tip-calculator', runId: RUN, artifactId: 'tool-linux' }, SECRET);

beforeEach(() => {
  s3.reset();
  resetClients();
  resetSecretCache();
});

describe('local download links', () => {
  it('streams the signed object as an attachment', async () => {
    s3.on(GetObjectCommand, { Bucket: 'bus-build-artifacts', Key: KEY }).resolves({
      // The SDK's stream body, reduced to the one method the handler reads.
      Body: { transformToByteArray: async () => new TextEncoder().encode('binary bytes') } as never,
    });
    const res = await get(await token());
    expect(res.statusCode).toBe(200);
    expect(Buffer.from(String(res.body), 'base64').toString()).toBe('binary bytes');
    expect(res.headers?.['content-disposition']).toBe('attachment; filename="tip-calculator"');
  });

  it('answers 404 not_found (not 500) for a validly signed link whose object is missing', async () => {
    s3.on(GetObjectCommand).rejects(
      new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }),
    );
    const res = await get(await token());
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(String(res.body))).toMatchObject({ error: { code: 'not_found' } });
  });

  it('still answers 500 internal_error when the store itself fails', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    const res = await get(await token());
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(String(res.body))).toMatchObject({ error: { code: 'internal_error' } });
  });
});
