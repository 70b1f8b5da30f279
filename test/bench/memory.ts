/**
 * The memory section of `npm run bench` (bounded memory of the local stack, issue 12), also
 * runnable on its own: `npx tsx test/bench/memory.ts`.
 *
 * The local stack's RSS (its process, read from /proc) after a warm-up round and after each of 3
 * rounds of 100 concurrent visitors (create a run, one message, 4 event long-polls of 2 s). The
 * last round's RSS must stay within 15 % of the baseline; the script prints the numbers and exits
 * non-zero when it does not.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { ApiClient, startTestStack, type TestStack } from '../integration/harness.ts';

const REQUEST = 'I need a tip calculator web app and a command line program for linux';
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const say = (line: string) => process.stdout.write(`${line}\n`);

/** 400 visitors from one source IP: far above any real visitor, so the bench raises the quotas. */
export const BENCH_STACK_ENV = {
  RUNS_PER_SOURCE_PER_HOUR: '100000',
  RUNS_PER_SESSION_PER_HOUR: '100000',
  MESSAGES_PER_SOURCE_PER_MINUTE: '100000',
  MESSAGES_PER_SESSION_PER_MINUTE: '100000',
};

const VISITORS = Number(process.env.BENCH_VISITORS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const POLLS = 4;
const MEMORY_BOUND = 0.15;

/** Resident set size of a process in MiB (Linux /proc). */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb / 1024;
}

/**
 * One visitor: a new run, one message, then long-polls for events that do not come. Returns the
 * number of requests that failed: on a loaded machine a request can exceed the handler timeout
 * (500/503); that is counted and printed, not a reason to stop measuring memory.
 */
async function pollingVisitor(stack: TestStack): Promise<number> {
  const visitor = new ApiClient(stack.url);
  const created = await visitor.post<{ run: { run_id: string } }>('/api/v1/build-runs', {});
  if (created.status !== 201) return 1;
  const runId = created.body.run.run_id;
  let failed = 0;
  const msg = await visitor.post(`/api/v1/build-runs/${runId}/messages`, { text: REQUEST });
  if (msg.status !== 200) failed++;
  let after = 0;
  for (let i = 0; i < POLLS; i++) {
    const res = await visitor.get<{ next_after: number }>(
      `/api/v1/build-runs/${runId}/events?after=${after}&wait=2`,
    );
    if (res.status === 200) after = res.body.next_after;
    else failed++;
  }
  return failed;
}

async function visitorRound(stack: TestStack): Promise<{ ms: number; failed: number }> {
  const t0 = Date.now();
  const failed = await Promise.all(Array.from({ length: VISITORS }, () => pollingVisitor(stack)));
  return { ms: Date.now() - t0, failed: failed.reduce((a, b) => a + b, 0) };
}

const failures = (n: number) => (n ? `, ${n} requests failed (timeouts under load)` : '');

export async function memorySection(stack: TestStack): Promise<void> {
  say('');
  say(`memory: ${ROUNDS} rounds of ${VISITORS} long-polling visitors (local stack pid ${stack.pid})`);
  const warm = await visitorRound(stack);
  const baseline = await rssMiB(stack.pid);
  say(
    `memory baseline RSS after a warm-up round (${seconds(warm.ms)} s${failures(warm.failed)}): ${baseline.toFixed(1)} MiB`,
  );
  let last = baseline;
  for (let round = 1; round <= ROUNDS; round++) {
    const { ms, failed } = await visitorRound(stack);
    last = await rssMiB(stack.pid);
    say(`memory round ${round} (${seconds(ms)} s${failures(failed)}): RSS ${last.toFixed(1)} MiB`);
  }
  const growth = (last - baseline) / baseline;
  say(
    `memory RSS before → after ${ROUNDS} rounds: ${baseline.toFixed(1)} → ${last.toFixed(1)} MiB ` +
      `(${(growth * 100).toFixed(1)} %, bound ${MEMORY_BOUND * 100} %): ${growth <= MEMORY_BOUND ? 'flat' : 'GROWING'}`,
  );
  if (growth > MEMORY_BOUND) process.exitCode = 1;
}

async function main(): Promise<void> {
  const stack = await startTestStack({ env: BENCH_STACK_ENV, startTimeoutMs: 120_000 });
  try {
    await memorySection(stack);
  } catch (err) {
    const errors = stack
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":"error"'));
    process.stderr.write(`${errors.slice(-5).join('\n')}\n`);
    throw err;
  } finally {
    await stack.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `memory bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  });
}
