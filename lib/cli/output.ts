import type { Phase } from '../domain/phases.ts';
import type { RunStore } from '../domain/ports.ts';
import type { BuildRun } from '../domain/run.ts';
import { CliError } from './errors.ts';

/** What a command produces: `data` for `--json`, `text` for people; exit code 0 unless set. */
export interface CommandResult {
  data: unknown;
  text: string;
  exitCode?: number;
}

export async function requireRun(store: RunStore, runId: string): Promise<BuildRun> {
  const run = await store.getRun(runId);
  if (!run) throw new CliError(`Build run ${runId} was not found.`);
  return run;
}

/** The short form of a git commit id or a digest. */
export const short = (id: string | undefined, n = 12): string => (id ? id.slice(0, n) : '');

/** `s3://bucket/key`: where an internal object lives. */
export const s3Uri = (bucket: string, key: string): string => `s3://${bucket}/${key}`;

/** Runs of one phase from the phase index, newest first, following cursors up to `max` runs. */
export async function collectRuns(
  store: RunStore,
  phase: Phase,
  max = Number.POSITIVE_INFINITY,
): Promise<BuildRun[]> {
  const runs: BuildRun[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listRunsByPhase(phase, {
      limit: Math.min(100, max - runs.length),
      ...(cursor ? { cursor } : {}),
    });
    runs.push(...page.runs);
    cursor = page.cursor;
  } while (cursor && runs.length < max);
  return runs.slice(0, max);
}
