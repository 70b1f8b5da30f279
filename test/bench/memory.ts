/**
 * The memory section of `npm run bench` (bounded memory of the local stack, issue 12), also
 * runnable on its own: `npx tsx test/bench/memory.ts`.
 *
 * The local stack's RSS and V8 heap use, after a forced full GC, after a warm-up round and after
 * each of 3 rounds of 100 concurrent visitors (create a run, one message, 4 event long-polls of
 * 2 s). The last round's RSS and heap must stay within 15 % of the baseline taken after the
 * warm-up; the script prints the numbers and exits non-zero when they do not.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiClient, startTestStack, type TestStack } from '../integration/harness.ts';
import type { ProbeReply, ProbeRequest } from './memory-probe.ts';

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
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const pct = (from: number, to: number) => `${(((to - from) / from) * 100).toFixed(1)} %`;

/** What the stack process reports after a forced full GC (test/bench/memory-probe.ts). */
type Measurement = NodeJS.MemoryUsage & { v8Malloced: number };
async function probe(stack: TestStack, snapshot?: string): Promise<Measurement> {
  const id = ++probeId;
  const request: ProbeRequest = { type: 'memory-probe', id, ...(snapshot ? { snapshot } : {}) };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stack.child.off('message', onMessage);
      reject(new Error('the stack did not answer the memory probe'));
    }, 120_000);
    const onMessage = (reply: ProbeReply) => {
      if (reply?.type !== 'memory-probe' || reply.id !== id) return;
      clearTimeout(timer);
      stack.child.off('message', onMessage);
      if (!reply.gc) reject(new Error('the stack process runs without --expose-gc'));
      else resolve({ ...reply.usage, v8Malloced: reply.v8Malloced });
    };
    stack.child.on('message', onMessage);
    stack.child.send(request);
  });
}
let probeId = 0;

/** Anonymous and file-backed parts of a process's RSS (Linux /proc), in bytes. */
async function rssParts(pid: number): Promise<{ anon: number; file: number } | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status ?? '')?.[1]) * 1024;
  const anon = kb('RssAnon');
  const file = kb('RssFile');
  return Number.isFinite(anon) && Number.isFinite(file) ? { anon, file } : undefined;
}

/** Bytes under a directory (the LevelDB store: it grows with the data, by design). */
async function du(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  let total = 0;
  for (const e of entries)
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => undefined))?.size ?? 0;
  return total;
}

async function line(
  stack: TestStack,
  label: string,
  round: { ms: number; failed: number },
  usage: Measurement,
): Promise<string> {
  const parts = await rssParts(stack.pid);
  const db = await du(join(stack.dataDir, 'dynamodb'));
  return (
    `memory ${label} (${seconds(round.ms)} s${failures(round.failed)}): ` +
    `RSS ${mib(usage.rss)}${parts ? ` (anon ${mib(parts.anon)}, file ${mib(parts.file)})` : ''}, ` +
    `heap used ${mib(usage.heapUsed)} of ${mib(usage.heapTotal)}, external ${mib(usage.external)}, V8 malloc ${mib(usage.v8Malloced)}, ` +
    `LevelDB on disk ${mib(db)}`
  );
}

/**
 * A warm-up round (module loading, JIT, the first table and socket pools), then ROUNDS measured
 * rounds. After every round the stack runs a forced full GC and reports RSS and V8 heap use.
 * "Before" is the measurement after the warm-up, "after" the one after the last round; both RSS
 * and heap used must stay within the bound. With BENCH_HEAP_SNAPSHOTS=<dir> the stack also writes
 * a heap snapshot after each measurement (compare them with test/bench/heap-diff.ts).
 */
export async function memorySection(stack: TestStack): Promise<void> {
  const snapshots = process.env.BENCH_HEAP_SNAPSHOTS;
  if (snapshots) await mkdir(snapshots, { recursive: true });
  const snapshotAt = (name: string) => (snapshots ? join(snapshots, `${name}.heapsnapshot`) : undefined);
  say('');
  say(`memory: ${ROUNDS} rounds of ${VISITORS} long-polling visitors (local stack pid ${stack.pid})`);
  const warm = await visitorRound(stack);
  const before = await probe(stack, snapshotAt('round-0'));
  say(await line(stack, 'warm-up round, not counted; baseline', warm, before));
  const rounds: Measurement[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const result = await visitorRound(stack);
    const usage = await probe(stack, snapshotAt(`round-${round}`));
    rounds.push(usage);
    say(await line(stack, `round ${round}`, result, usage));
  }
  const after = rounds[rounds.length - 1] ?? before;
  const rssGrowth = (after.rss - before.rss) / before.rss;
  const heapGrowth = (after.heapUsed - before.heapUsed) / before.heapUsed;
  const flat = (g: number) => (g <= MEMORY_BOUND ? 'flat' : 'GROWING');
  say(
    `memory RSS before → after ${ROUNDS} rounds (forced GC): ${mib(before.rss)} → ${mib(after.rss)} ` +
      `(${pct(before.rss, after.rss)}, bound ${MEMORY_BOUND * 100} %): ${flat(rssGrowth)}`,
  );
  say(
    `memory heap used before → after ${ROUNDS} rounds (forced GC): ${mib(before.heapUsed)} → ` +
      `${mib(after.heapUsed)} (${pct(before.heapUsed, after.heapUsed)}, bound ${MEMORY_BOUND * 100} %): ${flat(heapGrowth)}`,
  );
  const first = rounds[0];
  if (first && rounds.length > 1) {
    const perVisitor = (after.heapUsed - first.heapUsed) / (VISITORS * (rounds.length - 1));
    say(
      `memory round 1 → round ${ROUNDS}: RSS ${pct(first.rss, after.rss)}, heap used ` +
        `${pct(first.heapUsed, after.heapUsed)} (${(perVisitor / 1024).toFixed(2)} KiB per visitor)`,
    );
  }
  if (rssGrowth > MEMORY_BOUND || heapGrowth > MEMORY_BOUND) process.exitCode = 1;
}

/** The stack as the memory section needs it: GC exposed and the probe loaded over IPC. */
export const MEMORY_STACK_OPTIONS = {
  nodeArgs: ['--expose-gc'],
  preload: [pathToFileURL(join(import.meta.dirname, 'memory-probe.ts')).href],
  ipc: true,
};

async function main(): Promise<void> {
  const stack = await startTestStack({
    env: BENCH_STACK_ENV,
    startTimeoutMs: 120_000,
    ...MEMORY_STACK_OPTIONS,
  });
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
