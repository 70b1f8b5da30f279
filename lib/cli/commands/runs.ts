import { isUnsettled } from '../../domain/payment.ts';
import { PHASES } from '../../domain/phases.ts';
import type { BuildRun } from '../../domain/run.ts';
import { currentVersion } from '../../domain/versions.ts';
import type { Command } from '../args.ts';
import { type CommandResult, collectRuns } from '../output.ts';
import { formatTime, renderTable } from '../table.ts';
import type { Connection } from '../target.ts';

type RunsCommand = Extract<Command, { name: 'runs' }>;

/** The fields `runs` shows per run. */
export function runSummary(run: BuildRun) {
  return {
    runId: run.runId,
    phase: run.phase,
    artifactType: run.spec?.artifactType ?? run.artifactType,
    title: run.spec?.title,
    attempts: run.attempts,
    retries: run.retries ?? 0,
    /** The current delivered version, and the change being quoted or built, if any. */
    version: currentVersion(run)?.number ?? null,
    changeTo: run.revision?.number ?? null,
    payment: run.payment.status,
    /** The card payment is not settled (capture / cancel open or failing, or the hold expired). */
    unsettled: isUnsettled(run),
    ...(run.payment.note && { paymentNote: run.payment.note }),
    failure: run.failure?.code,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    endedAt: run.endedAt,
  };
}

/**
 * `runs`: one phase (with a cursor for the next page), or all phases merged, newest first. The
 * all-phases listing reads at most `limit` runs per phase from the phase index, so the merged
 * result holds the `limit` most recently updated runs overall.
 */
export async function runsCommand(conn: Connection, cmd: RunsCommand): Promise<CommandResult> {
  let runs: BuildRun[];
  let cursor: string | undefined;
  if (cmd.phase) {
    const page = await conn.store.listRunsByPhase(cmd.phase, {
      limit: cmd.limit,
      ...(cmd.cursor ? { cursor: cmd.cursor } : {}),
    });
    runs = page.runs;
    cursor = page.cursor;
  } else {
    const perPhase = await Promise.all(PHASES.map((phase) => collectRuns(conn.store, phase, cmd.limit)));
    runs = perPhase
      .flat()
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))
      .slice(0, cmd.limit);
  }
  if (cmd.unsettled) runs = runs.filter(isUnsettled);
  const rows = runs.map(runSummary);
  const table = renderTable(
    rows,
    [
      { header: 'RUN ID', value: (r) => r.runId },
      { header: 'PHASE', value: (r) => r.phase },
      { header: 'TYPE', value: (r) => r.artifactType ?? '' },
      {
        header: 'VERSION',
        value: (r) => (r.version === null ? '' : `v${r.version}${r.changeTo ? ` → v${r.changeTo}` : ''}`),
      },
      { header: 'ATTEMPTS', value: (r) => r.attempts, align: 'right' },
      { header: 'PAYMENT', value: (r) => (r.unsettled ? `${r.payment} UNSETTLED` : r.payment) },
      { header: 'UPDATED', value: (r) => formatTime(r.updatedAt) },
      { header: 'TITLE', value: (r) => r.title ?? '', maxWidth: 40 },
    ],
    cmd.unsettled
      ? 'No unsettled card payments.'
      : cmd.phase
        ? `No build runs in phase ${cmd.phase}.`
        : 'No build runs.',
  );
  const lines = [table];
  if (rows.length > 0) lines.push('', `${rows.length} run${rows.length === 1 ? '' : 's'}`);
  const unsettled = rows.filter((r) => r.unsettled).length;
  if (unsettled > 0)
    lines.push(
      `${unsettled} with an unsettled card payment: bus-build settle <run_id> (retried automatically)`,
    );
  if (cursor) lines.push(`More: bus-build runs --phase ${cmd.phase} --cursor ${cursor}`);
  return { data: { runs: rows, ...(cursor ? { cursor } : {}) }, text: lines.join('\n') };
}
