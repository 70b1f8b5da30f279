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

export async function verifyPreviewToken(token: string, secret: string): Promise<PreviewClaims | undefined> {
  const c = await verifyToken(token, AUDIENCE, secret);
  if (!c?.sub || !c.aid || !c.prefix || !c.entry) return undefined;
  if (c.prefix !== `runs/${c.sub}/${c.aid}/`) return undefined;
  return { runId: c.sub, artifactId: c.aid, prefix: c.prefix, entrypoint: c.entry };
}
