import { DEFAULT_PRUNE_AFTER_DAYS, RepoStore } from '../../aws/repo-store.ts';
import type { BuildRun } from '../../domain/run.ts';
import type { Command } from '../args.ts';
import { CliError } from '../errors.ts';
import { type CommandResult, collectRuns, short } from '../output.ts';
import { formatTime, renderTable } from '../table.ts';
import type { Connection } from '../target.ts';

type PruneCommand = Extract<Command, { name: 'prune' }>;

/**
 * `prune`: deletes the build branches of runs that ended (delivered or failed) more than N days
 * ago, by the retention policy of `RepoStore.pruneBranches`. Evidence and artifacts in S3 are kept.
 * `--dry-run` lists the branches the policy selects and deletes nothing.
 */
export async function pruneCommand(
  conn: Connection,
  cmd: PruneCommand,
  opts: { now: () => Date },
): Promise<CommandResult> {
  if (!conn.repoDir) {
    throw new CliError(
      'prune must run where the template repository is mounted (the EFS volume on AWS): ' +
        'set REPO_DIR to the path of its bare repository there.',
    );
  }
  const repo = new RepoStore({ bareDir: conn.repoDir });
  const days = cmd.olderThanDays ?? DEFAULT_PRUNE_AFTER_DAYS;
  const now = opts.now();
  const ended = (
    await Promise.all([collectRuns(conn.store, 'delivered'), collectRuns(conn.store, 'failed')])
  ).flat();
  const byRun = new Map<string, BuildRun>(ended.map((r) => [r.runId, r]));

  const pruned = await repo.pruneBranches({ runs: ended, olderThanDays: days, now, dryRun: cmd.dryRun });
  const remaining = (await repo.listBuildBranches()).length - (cmd.dryRun ? pruned.length : 0);

  const rows = pruned.map((p) => ({
    ...p,
    phase: byRun.get(p.runId)?.phase,
    endedAt: byRun.get(p.runId)?.endedAt,
  }));
  const verb = cmd.dryRun ? 'Would delete' : 'Deleted';
  const text = [
    renderTable(
      rows,
      [
        { header: 'RUN ID', value: (r) => r.runId },
        { header: 'PHASE', value: (r) => r.phase },
        { header: 'ENDED', value: (r) => formatTime(r.endedAt) },
        { header: 'COMMIT', value: (r) => short(r.commit) },
        { header: 'BRANCH', value: (r) => r.branch },
      ],
      `No build branches of runs that ended more than ${days} days ago.`,
    ),
    '',
    `${verb} ${rows.length} build branch${rows.length === 1 ? '' : 'es'}; ${remaining} kept.` +
      ' Evidence and artifacts in S3 are not touched.',
  ].join('\n');
  return {
    data: { dryRun: cmd.dryRun, olderThanDays: days, pruned: rows, kept: remaining },
    text,
  };
}
