/** Drives an intake engine through the real `postMessage` use case over an in-memory run store. */
import type { AppDeps } from '../../lib/app/deps.ts';
import { postMessage } from '../../lib/app/post-message.ts';
import type { IntakeEngine } from '../../lib/domain/intake/engine.ts';
import { newBuildRun } from '../../lib/domain/lifecycle.ts';
import { DEFAULT_PRICE_TABLE } from '../../lib/domain/pricing.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { clock, MemoryPublisher, MemoryRunStore, OWNER, T0 } from '../unit/orchestrator-fakes.ts';

export interface Conversation {
  store: MemoryRunStore;
  runId: string;
  replies: string[];
  send(text: string): Promise<{ run: BuildRun; reply: string }>;
  run(): Promise<BuildRun>;
  events(): string[];
}

export async function conversation(intake: IntakeEngine): Promise<Conversation> {
  const store = new MemoryRunStore();
  const run = newBuildRun(OWNER, T0);
  await store.createRun(run);
  const deps: AppDeps = {
    store,
    publisher: new MemoryPublisher(),
    intake,
    priceTable: DEFAULT_PRICE_TABLE,
    now: clock(),
  };
  const replies: string[] = [];
  return {
    store,
    runId: run.runId,
    replies,
    async send(text) {
      const out = await postMessage(deps, { sessionId: OWNER.sessionId }, run.runId, text);
      replies.push(out.reply.text);
      return { run: out.run, reply: out.reply.text };
    },
    async run() {
      const r = await store.getRun(run.runId);
      if (!r) throw new Error('run vanished');
      return r;
    },
    events: () => store.types(run.runId),
  };
}
