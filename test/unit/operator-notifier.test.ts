import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  OutboxNotifier,
  operatorNotifierFromEnv,
  SnsTopicNotifier,
} from '../../lib/aws/operator-notifier.ts';

const request = {
  runId: 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa',
  title: 'Tip calculator',
  amountDisplay: '€49.00',
  quoteVersion: 2,
  contactEmail: 'visitor@example.org',
  at: '2026-11-24T10:00:00.000Z',
};

describe('operator notifications', () => {
  it('publishes an approval request to the SNS topic without the visitor email', async () => {
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    await new SnsTopicNotifier(
      'arn:aws:sns:eu-north-1:123456789012:ops',
      new SNSClient({}),
    ).approvalRequested(request);
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.TopicArn).toBe('arn:aws:sns:eu-north-1:123456789012:ops');
    expect(input.Message).toContain('bus-build --aws approve run_aaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(input.Message).not.toContain('visitor@example.org');
    expect(input.Subject?.length).toBeLessThan(100);
    sns.restore();
  });

  it('writes one outbox file per run and quote version locally', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'outbox-'));
    const lines: string[] = [];
    const notifier = new OutboxNotifier(dir, (l) => lines.push(l));
    await notifier.approvalRequested(request);
    await notifier.approvalRequested(request);
    expect(await readdir(dir)).toEqual(['approval-run_aaaaaaaaaaaaaaaaaaaaaaaaaa-q2.json']);
    const body = JSON.parse(await readFile(path.join(dir, (await readdir(dir))[0]!), 'utf8'));
    expect(body.kind).toBe('approval_requested');
    expect(lines[0]).toContain('bus-build approve run_aaaaaaaaaaaaaaaaaaaaaaaaaa');
  });

  it('picks SNS when OPERATOR_TOPIC_ARN is set, the outbox otherwise', () => {
    expect(operatorNotifierFromEnv({ OPERATOR_TOPIC_ARN: 'arn:aws:sns:x:1:t' })).toBeInstanceOf(
      SnsTopicNotifier,
    );
    expect(operatorNotifierFromEnv({ DATA_DIR: '/tmp/x' })).toBeInstanceOf(OutboxNotifier);
  });
});
