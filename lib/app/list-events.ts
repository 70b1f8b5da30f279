import type { BuildEvent } from '../domain/events.ts';
import { type PublicEvent, publicEventsOf } from '../domain/projection.ts';
import { type Caller, loadOwnedRun } from './access.ts';
import type { AppDeps } from './deps.ts';

export const MAX_WAIT_SECONDS = 20;
export const EVENTS_PAGE_SIZE = 100;
const POLL_INTERVAL_MS = 250;

/**
 * Public-safe events after a cursor. With `waitSeconds` it long-polls (bounded) until at least one
 * event exists after the cursor. `nextAfter` is the cursor for the next call; internal events that
 * are not public still advance it.
 */
export async function listPublicEvents(
  deps: Pick<AppDeps, 'store'>,
  caller: Caller,
  runId: string,
  after: number,
  waitSeconds: number,
): Promise<{ events: PublicEvent[]; nextAfter: number }> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  const deadline = Date.now() + Math.min(waitSeconds, MAX_WAIT_SECONDS) * 1000;
  let page: { events: BuildEvent[]; lastSeq: number };
  for (;;) {
    page = await deps.store.listEvents(runId, after, EVENTS_PAGE_SIZE);
    if (page.events.length > 0 || Date.now() + POLL_INTERVAL_MS > deadline) break;
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
  const events = page.events.map(publicEventsOf(run)).filter((e): e is PublicEvent => e !== null);
  return { events, nextAfter: page.lastSeq };
}
