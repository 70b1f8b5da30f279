import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { BuildEvent } from '../domain/events.ts';
import type { EventPublisher } from '../domain/ports.ts';
import { log } from '../log.ts';

/** Publishes appended domain events to an EventBridge bus (detail = the internal event). */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: BuildEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 10) {
      const batch = events.slice(i, i + 10);
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: batch.map((e) => ({
            EventBusName: this.busName,
            Source: 'busdk.build',
            DetailType: e.type,
            Detail: JSON.stringify(e),
            Time: new Date(e.at),
          })),
        }),
      );
      if (out.FailedEntryCount)
        log.warn('eventbridge publish partially failed', { failed: out.FailedEntryCount });
    }
  }
}

/** Local default: the event log in DynamoDB is the source of truth; nothing else to publish to. */
export class NoopPublisher implements EventPublisher {
  async publish(): Promise<void> {}
}
