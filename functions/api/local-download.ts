import { GetObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../lib/aws/clients.ts';
import { loadConfig } from '../../lib/aws/config.ts';
import { verifyLocalDownload } from '../../lib/aws/download-links.ts';
import { NotFoundError } from '../../lib/domain/errors.ts';
import { apiHandler } from '../shared/http.ts';
import { sessionSecret } from '../shared/secrets.ts';

/**
 * GET /api/v1/downloads/{token} — local stack only (AWS uses presigned S3 URLs). Streams one
 * published object named by a signed, expiring token; a forged, expired or altered token is 404.
 * A receipt screenshot's token (`part: screenshot`) names only that key and is served inline.
 */
export const handler = apiHandler(async (event) => {
  const claims = await verifyLocalDownload(event.pathParameters?.token ?? '', await sessionSecret());
  if (!claims) throw new NotFoundError('download');
  const out = await s3Client().send(
    new GetObjectCommand({ Bucket: loadConfig().artifactsBucket, Key: claims.key }),
  );
  const bytes = Buffer.from(await out.Body!.transformToByteArray());
  const screenshot = claims.part === 'screenshot';
  return {
    statusCode: 200,
    isBase64Encoded: true,
    headers: {
      'content-type': screenshot ? 'image/png' : 'application/octet-stream',
      'content-disposition': screenshot ? 'inline' : `attachment; filename="${claims.fileName}"`,
      'content-length': String(bytes.length),
      'cache-control': 'private, no-store',
      'x-content-type-options': 'nosniff',
    },
    body: bytes.toString('base64'),
  };
});
