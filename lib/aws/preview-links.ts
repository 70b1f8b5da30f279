import { signToken, verifyToken } from './signed-token.ts';

export const PREVIEW_TTL_SECONDS = 3600;
const AUDIENCE = 'artifact-preview';

export interface PreviewClaims {
  runId: string;
  artifactId: string;
  /** Published key prefix of the web artifact: `runs/{run_id}/{artifact_id}/`. */
  prefix: string;
  entrypoint: string;
}

/**
 * A preview link: `{base}/p/{token}/` on the preview origin (never the portal's). The token is
 * signed, expiring and bound to one run's one web artifact; it grants nothing else.
 */
export async function previewUrl(
  base: string,
  claims: PreviewClaims,
  secret: string,
  ttl = PREVIEW_TTL_SECONDS,
) {
  const token = await signToken(
    { aid: claims.artifactId, prefix: claims.prefix, entry: claims.entrypoint },
    claims.runId,
    AUDIENCE,
    secret,
    ttl,
  );
  return `${base.replace(/\/+$/, '')}/p/${token}/`;
}

/** The CloudFront function's SAFE_SEGMENT (lib/infra/preview-function/viewer-request.js). */
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A relative path of safe segments (the entry page): no traversal, no empty or encoded parts. */
function isSafeRelPath(p: string): boolean {
  return p !== '' && p.split('/').every((s) => SAFE_SEGMENT.test(s) && !s.includes('..'));
}

/**
 * The claims of a valid preview token, by the same rules as the CloudFront function: signature,
 * audience, a required `exp`, safe `sub`/`aid`, the prefix of its own run's artifact, a safe `entry`.
 */
export async function verifyPreviewToken(token: string, secret: string): Promise<PreviewClaims | undefined> {
  const c = await verifyToken(token, AUDIENCE, secret);
  if (!c?.sub || !c.aid || !c.prefix || !c.entry) return undefined;
  if (!SAFE_SEGMENT.test(c.sub) || !SAFE_SEGMENT.test(c.aid) || !isSafeRelPath(c.entry)) return undefined;
  if (c.prefix !== `runs/${c.sub}/${c.aid}/`) return undefined;
  return { runId: c.sub, artifactId: c.aid, prefix: c.prefix, entrypoint: c.entry };
}
