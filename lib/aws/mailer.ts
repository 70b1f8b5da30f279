import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { Mailer } from '../domain/ports.ts';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}

/**
 * The local stand-in for SES: one JSON file per message in the outbox folder
 * (`mail-{time}-{random}.json`: `{ to, from, subject, text, at }`) and one console line with the subject, so a developer sees
 * a sign-in code in the terminal. Used only by the local stack and tests (`OUTBOX_DIR`).
 */
export class OutboxMailer implements Mailer {
  constructor(
    private readonly dir: string,
    private readonly from = 'BusDK Builder <no-reply@localhost>',
    private readonly console: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  async send(message: OutgoingMail): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const at = new Date().toISOString();
    const file = join(this.dir, `mail-${at.replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.json`);
    await writeFile(file, `${JSON.stringify({ ...message, from: this.from, at }, null, 2)}\n`, {
      mode: 0o600,
      flag: 'wx',
    });
    this.console(`[outbox] mail to ${message.to}: ${message.subject} (${file})`);
  }
}

/** A mailer that refuses: email sending is not configured in this environment. */
export class UnconfiguredMailer implements Mailer {
  async send(): Promise<void> {
    throw new Error('no mailer configured: set OUTBOX_DIR (local) or EMAIL_FROM with SES (AWS)');
  }
}

/** AWS: Amazon SES (v2 SendEmail) from the verified identity `EMAIL_FROM`. */
export class SesMailer implements Mailer {
  constructor(
    private readonly from: string,
    private readonly ses: Pick<SESv2Client, 'send'> = new SESv2Client({}),
  ) {}

  async send(message: OutgoingMail): Promise<void> {
    await this.ses.send(
      new SendEmailCommand({
        FromEmailAddress: this.from,
        Destination: { ToAddresses: [message.to] },
        Content: {
          Simple: {
            Subject: { Data: message.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: message.text, Charset: 'UTF-8' } },
          },
        },
      }),
    );
  }
}

/**
 * The mailer for this environment: the outbox under `OUTBOX_DIR` (the local stack sets it to
 * `DATA_DIR/outbox`), else under `DATA_DIR/outbox` when `DATA_DIR` is set; on AWS (neither set)
 * SES from `EMAIL_FROM`. With nothing configured, sending fails loudly.
 */
export function mailerFromEnv(env: NodeJS.ProcessEnv = process.env): Mailer {
  const dir = env.OUTBOX_DIR?.trim() || (env.DATA_DIR?.trim() ? join(env.DATA_DIR.trim(), 'outbox') : '');
  if (dir) return new OutboxMailer(dir, env.EMAIL_FROM || undefined);
  if (env.EMAIL_FROM?.trim()) return new SesMailer(env.EMAIL_FROM.trim());
  return new UnconfiguredMailer();
}
