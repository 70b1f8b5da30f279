/**
 * The preview origin's Content-Security-Policy, shared by the CloudFront response headers policy
 * (lib/infra/preview-distribution.ts) and the local preview server: the artifact may load only
 * its own files, and only the portal may frame it.
 */
export function previewContentSecurityPolicy(frameAncestors: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors 'self' ${frameAncestors.join(' ')}`.trim(),
  ].join('; ');
}
