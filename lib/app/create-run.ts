import { newEvent } from '../domain/events.ts';
import { newBuildRun } from '../domain/lifecycle.ts';
import type { BuildRun } from '../domain/run.ts';
import type { AppDeps } from './deps.ts';
import { recordEvents } from './record.ts';

export async function createRun(deps: AppDeps, sessionId: string): Promise<BuildRun> {
  const run = newBuildRun({ sessionId, emailVerified: false }, deps.now());
  await deps.store.createRun(run);
  await recordEvents(deps, run.runId, [newEvent('bus.build.run.requested', {})]);
  return run;
}
