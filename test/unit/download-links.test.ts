import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DOWNLOAD_TTL_SECONDS,
  presignDownload,
  presignScreenshot,
  signLocalDownload,
  verifyLocalDownload,
} from '../../lib/aws/download-links.ts';

const RUN = 'run_abcdefghijklmnopqrstuvwxyz';
const KEY = `runs/${RUN}/tool-linux/tip-calculator`;
const CLAIMS = { key: KEY, fileName: 'tip-calculator', runId: RUN, artifactId: 'tool-linux' };
const SECRET = 'download-test-secret-download-test-secret';

/** Presigning is pure signing: static credentials and a region, no network. */
const s3 = (opts: { forcePathStyle?: boolean } = {}) =>
  new S3Client({
    region: 'eu-north-1',
    credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE', secretAccessKey: 'secret/example/key' },
    ...opts,
  });

describe('presignDownload (AWS)', () => {
  it('presigns a GET of exactly the published object, as an attachment, for five minutes', async () => {
    const url = new URL(await presignDownload(s3(), 'bus-build-artifacts-prod', KEY, 'tip-calculator'));
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toBe('bus-build-artifacts-prod.s3.eu-north-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe(`/${KEY}`);
    const q = url.searchParams;
    expect(DOWNLOAD_TTL_SECONDS).toBe(300);
    expect(q.get('X-Amz-Expires')).toBe('300');
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toMatch(/^AKIAEXAMPLEEXAMPLE\/\d{8}\/eu-north-1\/s3\/aws4_request$/);
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    // Only the host is signed: the link works from a plain browser navigation.
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('response-content-disposition')).toBe('attachment; filename="tip-calculator"');
    expect(q.get('response-content-type')).toBe('application/octet-stream');
    // No secret material in the link.
    expect(url.href).not.toContain('secret/example/key');
  });

  it('honours a shorter lifetime and path-style addressing', async () => {
    const url = new URL(
      await presignDownload(s3({ forcePathStyle: true }), 'artifacts', KEY, 'tool.exe', 60),
    );
    expect(url.hostname).toBe('s3.eu-north-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe(`/artifacts/${KEY}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('response-content-disposition')).toBe('attachment; filename="tool.exe"');
  });
});

describe('local download links (gateway)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('round-trips the claims', async () => {
    const token = await signLocalDownload(CLAIMS, SECRET);
    expect(await verifyLocalDownload(token, SECRET)).toEqual(CLAIMS);
  });

  it('expires after the TTL (injected clock)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.parse('2026-11-24T10:00:00.000Z');
    vi.setSystemTime(t0);
    const token = await signLocalDownload(CLAIMS, SECRET);
    const short = await signLocalDownload(CLAIMS, SECRET, 30);

    vi.setSystemTime(t0 + (DOWNLOAD_TTL_SECONDS - 1) * 1000);
    expect(await verifyLocalDownload(token, SECRET)).toEqual(CLAIMS);
    expect(await verifyLocalDownload(short, SECRET)).toBeUndefined();

    vi.setSystemTime(t0 + DOWNLOAD_TTL_SECONDS * 1000);
    expect(await verifyLocalDownload(token, SECRET)).toBeUndefined();
    vi.setSystemTime(t0 + 24 * 3600 * 1000);
    expect(await verifyLocalDownload(token, SECRET)).toBeUndefined();
  });

  it('refuses another key, another audience and a key outside the run and artifact', async () => {
    const token = await signLocalDownload(CLAIMS, SECRET);
    expect(await verifyLocalDownload(token, `${SECRET}-other`)).toBeUndefined();
    const { signToken } = await import('../../lib/aws/signed-token.ts');
    const session = await signToken({ key: KEY, fn: 'x', aid: 'tool-linux' }, RUN, 'visitor', SECRET, 300);
    expect(await verifyLocalDownload(session, SECRET)).toBeUndefined();
    for (const key of [
      `runs/run_zzzzzzzzzzzzzzzzzzzzzzzzzz/tool-linux/x`,
      `runs/${RUN}/other/x`,
      'evidence/x',
    ]) {
      const t = await signLocalDownload({ ...CLAIMS, key }, SECRET);
      expect(await verifyLocalDownload(t, SECRET), key).toBeUndefined();
    }
  });
});

describe('receipt screenshot links', () => {
  const SHOT = {
    key: `runs/${RUN}/_receipts/web/screenshot.png`,
    fileName: 'screenshot.png',
    runId: RUN,
    artifactId: 'web',
  };

  it('AWS: presigns exactly the screenshot, inline as image/png, for five minutes', async () => {
    const url = new URL(await presignScreenshot(s3(), 'bus-build-artifacts-prod', SHOT.key));
    expect(decodeURIComponent(url.pathname)).toBe(`/${SHOT.key}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(url.searchParams.get('response-content-type')).toBe('image/png');
    expect(url.searchParams.get('response-content-disposition')).toBe('inline');
  });

  it('local: a screenshot token names only the receipt key of its own run and artifact', async () => {
    const token = await signLocalDownload({ ...SHOT, part: 'screenshot' }, SECRET);
    expect(await verifyLocalDownload(token, SECRET)).toEqual({ ...SHOT, part: 'screenshot' });
    // Another artifact's receipt, or any other object, under the screenshot part is refused.
    for (const key of [`runs/${RUN}/_receipts/other/screenshot.png`, `runs/${RUN}/web/index.html`]) {
      const forged = await signLocalDownload({ ...SHOT, key, part: 'screenshot' }, SECRET);
      expect(await verifyLocalDownload(forged, SECRET)).toBeUndefined();
    }
    // Without the part, the receipt key is outside every artifact's tree: refused as a download.
    expect(await verifyLocalDownload(await signLocalDownload(SHOT, SECRET), SECRET)).toBeUndefined();
  });
});
