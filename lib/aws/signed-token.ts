import { jwtVerify, SignJWT } from 'jose';

/** HS256 tokens: visitor sessions and short-lived capabilities (download and preview links). */
export async function signToken(
  claims: Record<string, string>,
  subject: string,
  audience: string,
  secret: string,
  ttlSeconds: number,
  issuer?: string,
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(subject);
  if (issuer) jwt.setIssuer(issuer);
  return jwt
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(new TextEncoder().encode(secret));
}

/**
 * The token's string claims (and `sub`), or undefined when forged, altered, expired, without an
 * expiry or foreign.
 */
export async function verifyToken(
  token: string,
  audience: string,
  secret: string,
  issuer?: string,
): Promise<Record<string, string> | undefined> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      audience,
      algorithms: ['HS256'],
      // Every token we sign expires; one without `exp` is not ours (jose accepts it by default).
      requiredClaims: ['exp'],
      ...(issuer ? { issuer } : {}),
    });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(payload)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    return undefined;
  }
}
