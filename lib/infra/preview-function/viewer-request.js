import cf from 'cloudfront';

// CloudFront Function (runtime cloudfront-js-2.0), viewer-request of the preview distribution.
// Deployed verbatim by lib/infra/preview-distribution.ts (FunctionCode.fromFile) and unit-tested
// in Node through lib/infra/preview-function/load.ts, which supplies `cf` and `require` and
// removes nothing but the import line above. Keep it plain JavaScript (ES2020): no exports, no
// other imports, no Node APIs beyond crypto.createHmac.
//
// Contract (the same as lib/local/preview-server.ts + lib/aws/preview-links.ts):
//   GET /p/<token>/<rest>  with token = JWT HS256 (base64url header.payload.signature) signed with
//   the preview key (KeyValueStore key `preview-signing-key`), claims
//   { sub: run id, aid: artifact id, prefix: "runs/<sub>/<aid>/", entry, aud: "artifact-preview", exp }
//   → the request goes to the S3 origin as /runs/<sub>/<aid>/<rest or entry>.
// Everything else (bad path, traversal, encoded characters, forged / expired / foreign token) is a
// 404 generated here, so it never reaches the bucket.
// biome-ignore lint/style/useNodejsImportProtocol: CloudFront Functions name the module `crypto`
const crypto = require('crypto');
const kvs = cf.kvs();

const KEY_NAME = 'preview-signing-key';
const AUDIENCE = 'artifact-preview';
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const PREVIEW_PATH = /^\/p\/([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\/(.*)$/;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function refuse(status) {
  return {
    statusCode: status,
    statusDescription: status === 404 ? 'Not Found' : 'Service Unavailable',
    headers: {
      'content-type': { value: 'text/plain; charset=utf-8' },
      'cache-control': { value: 'no-store' },
      'x-content-type-options': { value: 'nosniff' },
    },
    body: { encoding: 'text', data: status === 404 ? 'Not found' : 'Preview unavailable' },
  };
}

// Same rules as parsePreviewPath in lib/local/preview-server.ts.
function parsePath(uri) {
  if (/%|\\|\0/.test(uri)) return null;
  const m = PREVIEW_PATH.exec(uri);
  if (!m) return null;
  const rest = m[4];
  if (rest !== '') {
    const parts = rest.split('/');
    for (let i = 0; i < parts.length; i++) {
      if (!SAFE_SEGMENT.test(parts[i]) || parts[i].indexOf('..') !== -1) return null;
    }
  }
  return { header: m[1], payload: m[2], signature: m[3], rel: rest };
}

function safeRelPath(p) {
  if (typeof p !== 'string' || p === '') return false;
  const parts = p.split('/');
  for (let i = 0; i < parts.length; i++) {
    if (!SAFE_SEGMENT.test(parts[i]) || parts[i].indexOf('..') !== -1) return false;
  }
  return true;
}

// base64url → ASCII string; null when malformed or not ASCII (every claim of ours is ASCII).
function decodeAscii(s) {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B64.indexOf(s.charAt(i));
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const code = (acc >> bits) & 0xff;
      if (code > 127) return null;
      out += String.fromCharCode(code);
    }
  }
  return out;
}

function parseJson(s) {
  if (s === null) return null;
  try {
    const v = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch (_e) {
    return null;
  }
}

function sign(key, data) {
  const b64 = crypto.createHmac('sha256', key).update(data).digest('base64');
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function equalStrings(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// The claims of a valid token, or null (forged, altered, expired, other audience, foreign prefix).
function verify(parsed, key, nowSeconds) {
  if (!key || !equalStrings(sign(key, `${parsed.header}.${parsed.payload}`), parsed.signature)) return null;
  const header = parseJson(decodeAscii(parsed.header));
  const c = parseJson(decodeAscii(parsed.payload));
  // biome-ignore lint/complexity/useOptionalChain: kept to syntax every CloudFront runtime parses
  if (!header || header.alg !== 'HS256' || !c) return null;
  if (typeof c.exp !== 'number' || !(nowSeconds < c.exp)) return null;
  if (c.aud !== AUDIENCE && !(Array.isArray(c.aud) && c.aud.indexOf(AUDIENCE) !== -1)) return null;
  if (typeof c.sub !== 'string' || !SAFE_SEGMENT.test(c.sub)) return null;
  if (typeof c.aid !== 'string' || !SAFE_SEGMENT.test(c.aid)) return null;
  if (c.prefix !== `runs/${c.sub}/${c.aid}/`) return null;
  if (!safeRelPath(c.entry)) return null;
  return c;
}

// biome-ignore lint/correctness/noUnusedVariables: the entry point CloudFront calls by name
async function handler(event) {
  const request = event.request;
  if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(404);
  const parsed = parsePath(request.uri);
  if (!parsed) return refuse(404);
  let key;
  try {
    key = await kvs.get(KEY_NAME);
  } catch (_e) {
    return refuse(503);
  }
  const claims = verify(parsed, key, Math.floor(Date.now() / 1000));
  if (!claims) return refuse(404);
  request.uri = `/${claims.prefix}${parsed.rel === '' ? claims.entry : parsed.rel}`;
  // The token lives in the path only; nothing of the viewer's request reaches the bucket.
  request.querystring = {};
  request.cookies = {};
  return request;
}
