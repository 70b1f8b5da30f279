import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { keys } from './keys.ts';
import { signToken, verifyToken } from './signed-token.ts';

export const DOWNLOAD_TTL_SECONDS = 300;

/** A short-lived presigned GET that answers with the given disposition and content type. */
function presignGet(
  s3: S3Client,
  bucket: string,
  key: string,
  response: { disposition: string; contentType: string },
  ttlSeconds: number,
): Promise<string> {
  return getSignedUrl(
    s3,
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      ResponseContentDisposition: response.disposition,
      ResponseContentType: response.contentType,
    }),
    { expiresIn: ttlSeconds },
  );
}

/** AWS: a short-lived presigned GET of the published object, as an attachment with a safe name. */
export function presignDownload(
  s3: S3Client,
  bucket: string,
  key: string,
  fileName: string,
  ttlSeconds = DOWNLOAD_TTL_SECONDS,
): Promise<string> {
  const disposition = `attachment; filename="${fileName}"`;
  return presignGet(s3, bucket, key, { disposition, contentType: 'application/octet-stream' }, ttlSeconds);
}

/**
 * AWS: a short-lived presigned GET of a receipt's screenshot, shown inline as `image/png` (the
 * portal's delivered card shows it).
 */
export function presignScreenshot(
  s3: S3Client,
  bucket: string,
  key: string,
  ttlSeconds = DOWNLOAD_TTL_SECONDS,
): Promise<string> {
  return presignGet(s3, bucket, key, { disposition: 'inline', contentType: 'image/png' }, ttlSeconds);
}

/**
 * Local stack: s3rver does not verify signatures, so local links are tokens the gateway checks
 * itself — signed (HS256), expiring, bound to one published key and file name.
 */
export interface LocalDownloadClaims {
  key: string;
  fileName: string;
  runId: string;
  artifactId: string;
  /** `screenshot`: the artifact's receipt screenshot, served inline as `image/png`. */
  part?: 'screenshot';
}

const AUDIENCE = 'artifact-download';

export function signLocalDownload(
  claims: LocalDownloadClaims,
  secret: string,
  ttlSeconds = DOWNLOAD_TTL_SECONDS,
): Promise<string> {
  return signToken(
    {
      key: claims.key,
      fn: claims.fileName,
      aid: claims.artifactId,
      ...(claims.part && { part: claims.part }),
    },
    claims.runId,
    AUDIENCE,
    secret,
    ttlSeconds,
  );
}

export async function verifyLocalDownload(
  token: string,
  secret: string,
): Promise<LocalDownloadClaims | undefined> {
  const c = await verifyToken(token, AUDIENCE, secret);
  if (!c?.key || !c.fn || !c.aid || !c.sub) return undefined;
  if (c.part === 'screenshot') {
    if (c.key !== keys.receiptScreenshot(c.sub, c.aid)) return undefined;
    return { key: c.key, fileName: c.fn, artifactId: c.aid, runId: c.sub, part: 'screenshot' };
  }
  if (!c.key.startsWith(`runs/${c.sub}/${c.aid}/`)) return undefined;
  return { key: c.key, fileName: c.fn, artifactId: c.aid, runId: c.sub };
}
