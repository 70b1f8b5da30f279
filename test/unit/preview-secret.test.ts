import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { previewSecret, resetSecretCache } from '../../functions/shared/secrets.ts';
import { resolvePreviewSecret, resolveSessionSecret } from '../../lib/local/stack.ts';

const saved = { PREVIEW_SECRET: process.env.PREVIEW_SECRET, SESSION_SECRET: process.env.SESSION_SECRET };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetSecretCache();
});

describe('the dedicated preview signing key', () => {
  it('is generated once per data dir (0600), survives restarts and differs from the session key', () => {
    delete process.env.PREVIEW_SECRET;
    delete process.env.SESSION_SECRET;
    const dir = mkdtempSync(path.join(tmpdir(), 'preview-secret-'));
    const first = resolvePreviewSecret(dir);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(resolvePreviewSecret(dir)).toBe(first);
    const file = path.join(dir, 'preview-secret');
    expect(readFileSync(file, 'utf8').trim()).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveSessionSecret(dir)).not.toBe(first);
  });

  it('PREVIEW_SECRET overrides the file; the API signer reads PREVIEW_SECRET, not SESSION_SECRET', async () => {
    process.env.PREVIEW_SECRET = 'preview-from-env-preview-from-env-0123';
    process.env.SESSION_SECRET = 'session-from-env-session-from-env-0123';
    const dir = mkdtempSync(path.join(tmpdir(), 'preview-secret-'));
    expect(resolvePreviewSecret(dir)).toBe('preview-from-env-preview-from-env-0123');
    resetSecretCache();
    expect(await previewSecret()).toBe('preview-from-env-preview-from-env-0123');
  });

  it('fails clearly when neither PREVIEW_SECRET nor PREVIEW_SECRET_ARN is set', async () => {
    delete process.env.PREVIEW_SECRET;
    delete process.env.PREVIEW_SECRET_ARN;
    resetSecretCache();
    await expect(previewSecret()).rejects.toThrow(/PREVIEW_SECRET or PREVIEW_SECRET_ARN/);
  });
});
