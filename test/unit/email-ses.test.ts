import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { mailerFromEnv, OutboxMailer, SesMailer, UnconfiguredMailer } from '../../lib/aws/mailer.ts';

describe('SES mailer', () => {
  it('sends a plain-text message from the configured identity', async () => {
    const ses = mockClient(SESv2Client);
    ses.on(SendEmailCommand).resolves({ MessageId: 'x' });
    await new SesMailer('BusDK <builder@busdk.example>', new SESv2Client({})).send({
      to: 'visitor@example.org',
      subject: 'Your sign-in code: 123456',
      text: 'Your code is 123456. It expires in 10 minutes.',
    });
    const input = ses.commandCalls(SendEmailCommand)[0]!.args[0].input;
    expect(input.FromEmailAddress).toBe('BusDK <builder@busdk.example>');
    expect(input.Destination?.ToAddresses).toEqual(['visitor@example.org']);
    expect(input.Content?.Simple?.Body?.Text?.Data).toContain('123456');
    ses.restore();
  });

  it('is chosen on AWS (EMAIL_FROM, no outbox); the outbox wins locally', () => {
    expect(mailerFromEnv({ EMAIL_FROM: 'builder@busdk.example' })).toBeInstanceOf(SesMailer);
    expect(mailerFromEnv({ EMAIL_FROM: 'b@x.example', OUTBOX_DIR: '/tmp/o' })).toBeInstanceOf(OutboxMailer);
    expect(mailerFromEnv({})).toBeInstanceOf(UnconfiguredMailer);
  });
});
