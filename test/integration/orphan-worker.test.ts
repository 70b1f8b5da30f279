import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { workersDir } from '../../lib/local/worker-registry.ts';
import { ApiClient, makeTempDataDir, startTestStack, type TestStack } from './harness.ts';
import { busBuild, chatToQuote, type PublicRun, pollEvents, sharedGoCache } from './pipeline-helpers.ts';

/**
 * Issue 12, item 1: SIGKILL the local stack mid-build (its exit hook never runs, the worker is
 * re-parented and keeps going), restart it, `bus-build retry`: exactly one worker, and the
 * retry's push succeeds.
 */

const dataDir = makeTempDataDir();
let stack: TestStack | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Alive and not a zombie (an orphan re-parented to a PID 1 that never reaps it). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const pidFiles = () => (existsSync(workersDir(dataDir)) ? readdirSync(workersDir(dataDir)) : []);

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${stack?.output() ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a local stack killed with SIGKILL mid-build', () => {
  it('reaps the orphaned worker at the next start; the retry runs one worker and its push succeeds', async () => {
    const goCache = { GOCACHE: sharedGoCache() };
    // The first stack's coder hangs (an external agent that never returns), so the worker is
    // certainly still alive when the stack dies.
    stack = await startTestStack({
      dataDir,
      env: { ...goCache, CODER: 'command', CODER_COMMAND: JSON.stringify(['sleep', '300']) },
    });
    const client = new ApiClient(stack.url);
    const { runId } = await chatToQuote(client, ['I need a tip calculator', 'A web app please'], dataDir);
    expect((await busBuild(dataDir, 'approve', runId)).code).toBe(0);

    const orphan = await waitFor('the worker', () => {
      const [file] = pidFiles();
      return file ? Number(file.replace('.json', '')) : undefined;
    });
    await waitFor('the clone', () => {
      const log = join(dataDir, 'logs', `worker-${runId}-1.log`);
      return existsSync(log) && readFileSync(log, 'utf8').includes('cloned the build branch')
        ? true
        : undefined;
    });
    const work = join(dataDir, 'work');
    expect(readdirSync(work).some((n) => n.startsWith(`busdk-worker-${runId}-1-`))).toBe(true);

    process.kill(stack.pid, 'SIGKILL');
    await stack.stop();
    expect(running(orphan)).toBe(true); // the exit hook never ran: the worker outlived its stack

    stack = await startTestStack({ dataDir, env: goCache });
    expect(running(orphan)).toBe(false);
    expect(pidFiles()).toEqual([]);
    expect(readdirSync(work).filter((n) => n.startsWith('busdk-worker-'))).toEqual([]);

    const after = new ApiClient(stack.url);
    for (const [k, v] of client.cookies) after.cookies.set(k, v);
    const failed = await after.get<{ run: PublicRun }>(`/api/v1/build-runs/${runId}`);
    expect(failed.body.run.phase).toBe('failed');

    const seen = await after.get<{ next_after: number }>(`/api/v1/build-runs/${runId}/events?after=0`);
    const retry = await busBuild(dataDir, 'retry', runId);
    expect(retry.code, retry.stderr).toBe(0);
    // One worker for the run, the retry's own.
    const second = await waitFor('the retry worker', () => (pidFiles().length > 0 ? pidFiles() : undefined));
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(`${orphan}.json`);

    const { terminal } = await pollEvents(after, runId, {
      after: seen.body.next_after,
      timeoutMs: 400_000,
    });
    expect(terminal?.type, stack.output()).toBe('bus.build.artifact.verified');
    const log = readFileSync(join(dataDir, 'logs', `worker-${runId}-2.log`), 'utf8');
    expect(log).toMatch(/worker: pushed [0-9a-f]{40}/);
    expect(log).not.toContain('could not be pushed');
  }, 600_000);
});
