import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mailerFromEnv, OutboxMailer, UnconfiguredMailer } from '../../lib/aws/mailer.ts';

describe('local outbox mailer', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'outbox-'));
    dirs.push(d);
    return d;
  };

  it('writes one private JSON file per message and one console line with the subject', async () => {
    const dir = join(tmp(), 'outbox');
    const lines: string[] = [];
    const mailer = new OutboxMailer(dir, 'Builder <b@localhost>', (l) => lines.push(l));
    await mailer.send({ to: 'ada@example.org', subject: 'Code: 123456', text: 'Your code is 123456.' });
    await mailer.send({ to: 'bob@example.org', subject: 'Code: 654321', text: 'Your code is 654321.' });
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    for (const f of files) expect(f).toMatch(/^mail-.*\.json$/);
    const first = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8'));
    expect(first).toMatchObject({
      to: 'ada@example.org',
      from: 'Builder <b@localhost>',
      subject: 'Code: 123456',
      text: 'Your code is 123456.',
    });
    expect(statSync(join(dir, files[0]!)).mode & 0o077).toBe(0);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('ada@example.org: Code: 123456');
  });

  it('is chosen by OUTBOX_DIR or DATA_DIR; without either sending fails loudly', async () => {
    expect(mailerFromEnv({ OUTBOX_DIR: tmp() })).toBeInstanceOf(OutboxMailer);
    expect(mailerFromEnv({ DATA_DIR: tmp() })).toBeInstanceOf(OutboxMailer);
    const none = mailerFromEnv({});
    expect(none).toBeInstanceOf(UnconfiguredMailer);
    await expect(none.send({ to: 'a@example.org', subject: 's', text: 't' })).rejects.toThrow(/no mailer/);
  });
});
