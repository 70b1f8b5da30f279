import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { ApprovalRequest, OperatorNotifier } from '../domain/payment.ts';
import { log } from '../log.ts';

/**
 * Local operator notifications: one JSON file per notification in the outbox directory plus a
 * console line. The file name is derived from the run and quote version, so a repeated request
 * overwrites the same file instead of piling up.
 */
export class OutboxNotifier implements OperatorNotifier {
  constructor(
    private readonly dir: string,
    private readonly console: (line: string) => void = (l) => {
      if (process.env.LOG_LEVEL !== 'silent') process.stdout.write(`${l}\n`);
    },
  ) {}

  async approvalRequested(req: ApprovalRequest): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `approval-${req.runId}-q${req.quoteVersion}.json`);
    const body = {
      kind: 'approval_requested',
      subject: `Approval requested: ${req.title} (${req.amountDisplay})`,
      text: `Build run ${req.runId} asks for manual approval. Approve with: npx bus-build approve ${req.runId}`,
      ...req,
    };
    await writeFile(file, `${JSON.stringify(body, null, 2)}\n`);
    this.console(`[operator] approval requested for ${req.runId}: bus-build approve ${req.runId} (${file})`);
  }
}

/**
 * AWS: publishes to the SNS topic named by `OPERATOR_TOPIC_ARN` (operators subscribe by email or
 * chat). The message carries the run id and the approve command, never the visitor's email.
 */
export class SnsTopicNotifier implements OperatorNotifier {
  constructor(
    private readonly topicArn: string,
    private readonly sns: Pick<SNSClient, 'send'> = new SNSClient({}),
  ) {}

  async approvalRequested(req: ApprovalRequest): Promise<void> {
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: `Approval requested: ${req.title}`.slice(0, 99),
        Message: [
          `Build run ${req.runId} asks for manual approval (${req.amountDisplay}, quote v${req.quoteVersion}).`,
          `Approve with: npx bus-build --aws approve ${req.runId}`,
        ].join('\n'),
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'approval_requested' } },
      }),
    );
    log.info('operator notified', { runId: req.runId, quoteVersion: req.quoteVersion });
  }
}

/** `OPERATOR_TOPIC_ARN` on AWS, else the outbox under `OUTBOX_DIR` (default `DATA_DIR/outbox`). */
export function operatorNotifierFromEnv(env: NodeJS.ProcessEnv = process.env): OperatorNotifier {
  const topic = env.OPERATOR_TOPIC_ARN?.trim();
  if (topic) return new SnsTopicNotifier(topic);
  const dir = env.OUTBOX_DIR?.trim() || path.join(env.DATA_DIR?.trim() || '.data', 'outbox');
  return new OutboxNotifier(dir);
}
