import type { BuildEvent, NewBuildEvent } from '../domain/events.ts';
import type { EventPublisher, RunStore } from '../domain/ports.ts';
import { log } from '../log.ts';

/** Appends events to the run's log (source of truth), then publishes them to the bus. */
export async function recordEvents(
  deps: { store: RunStore; publisher: EventPublisher },
  runId: string,
  events: NewBuildEvent[],
  opts: { commit?: string } = {},
): Promise<BuildEvent[]> {
  const appended = await deps.store.appendEvents(runId, events, opts);
  try {
    await deps.publisher.publish(appended);
  } catch (err) {
    // The event log already holds them; bus delivery failure must not fail the request.
    log.warn('event publish failed', { runId, err });
  }
  return appended;
}
