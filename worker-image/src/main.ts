/**
 * The build worker: one process per attempt (an ECS Fargate task on AWS, a child process of the
 * local stack). Environment contract and exit codes: worker-image/README.md.
 *
 *   0  the candidate is uploaded and the work pushed; the verification gate decides the rest
 *   1  the attempt failed (repairable: build, tests, coder, internal, timeout, stop; unless the
 *      result says `repairable: false`, e.g. RENDER_CHECK=required without a browser)
 *   2  no recipe/coder can make this request (not repairable)
 *
 * Whatever happens, the internal log and `result.json` are written to the evidence bucket before
 * the process exits (when the configuration allows knowing where), and the result is printed as
 * one JSON line on stdout. Log lines go to stderr.
 *
 * `main.ts self-check <file> [--json]` is the external agent's self-check instead (no attempt,
 * no AWS): src/coder/self-check-command.ts, with its own exit codes.
 */

import { documentClient, s3Client } from '../../lib/aws/clients.ts';
import { DynamoRunStore } from '../../lib/aws/run-store.ts';
import { staleLeaseReason, type WorkerLease } from '../../lib/domain/worker-lease.ts';
import { runSelfCheckCommand, SELF_CHECK_SUBCOMMAND } from './coder/self-check-command.ts';
import { createCoder } from './coders.ts';
import { ConfigError, loadReportTarget, loadWorkerConfig, type ReportTarget } from './config.ts';
import { WorkerLog } from './log.ts';
import { runStoreProgress } from './progress.ts';
import { EXIT_FAILED, exitCodeFor, type WorkerResult, writeEvidence } from './result.ts';
import { killAllCommands } from './run-commands.ts';
import { runWorker } from './worker.ts';

/** How long writing the evidence may take before the process exits anyway. */
const REPORT_GRACE_MS = 30_000;

const log = new WorkerLog();
let stopping = false;
let finished = false;
/** The attempt's lease, once the assignment named the worker; checked again before the result. */
let lease: WorkerLease | undefined;
let checkLease: ((l: WorkerLease) => Promise<string | undefined>) | undefined;

/** How long the last lease check before the result may take (the store may be what failed). */
const LEASE_REPORT_CHECK_MS = 5_000;

/** Whether the result may be written: not by a stale attempt (the orchestrator moved on). */
async function mayReport(result: WorkerResult): Promise<boolean> {
  if (result.code === 'stale_attempt') return false;
  if (!lease || !checkLease) return true;
  // An unreadable (or hanging) store: report anyway, within a bound.
  const bound = new Promise<undefined>((resolve) => {
    const timer = setTimeout(resolve, LEASE_REPORT_CHECK_MS) as unknown as { unref?: () => void };
    timer.unref?.();
  });
  const reason = await Promise.race([checkLease(lease).catch(() => undefined), bound]);
  if (reason) log.line(`worker: not reporting a result: stale attempt (${reason})`);
  return !reason;
}

async function finish(target: ReportTarget | undefined, result: WorkerResult): Promise<never> {
  if (finished) return new Promise<never>(() => {});
  finished = true;
  const code = exitCodeFor(result);
  log.line(`worker: finished, ok=${result.ok}${result.code ? ` code=${result.code}` : ''}, exit ${code}`);
  const force = setTimeout(() => {
    process.stderr.write('worker: evidence write timed out\n');
    process.exit(code === 0 ? EXIT_FAILED : code);
  }, REPORT_GRACE_MS);
  if (target) {
    try {
      await writeEvidence({
        s3: s3Client(),
        bucket: target.evidenceBucket,
        runId: target.runId,
        attempt: target.attempt,
        result,
        writeResult: await mayReport(result),
        logText: log.text(),
      });
    } catch (err) {
      process.stderr.write(
        `worker: could not write the evidence (${(err as { name?: string }).name ?? 'Error'})\n`,
      );
      // A success that cannot be recorded is not a success.
      if (code === 0) {
        clearTimeout(force);
        process.stdout.write(
          `${JSON.stringify({ ok: false, code: 'internal', reason: 'evidence write failed' })}\n`,
        );
        process.exit(EXIT_FAILED);
      }
    }
  }
  clearTimeout(force);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(code);
}

function stop(target: ReportTarget | undefined, why: string): void {
  if (stopping || finished) return;
  stopping = true;
  const killed = killAllCommands('SIGKILL');
  log.line(`worker: ${why}; stopped ${killed} running command(s)`);
  void finish(target, { ok: false, code: 'internal', reason: why });
}

async function main(): Promise<void> {
  const target = loadReportTarget();
  let config: ReturnType<typeof loadWorkerConfig>;
  try {
    config = loadWorkerConfig();
  } catch (err) {
    const reason = err instanceof ConfigError ? `configuration: ${err.message}` : 'configuration error';
    log.line(`worker: ${reason}`);
    await finish(target, { ok: false, code: 'internal', reason });
    return;
  }

  const deadline = Date.now() + config.timeoutSeconds * 1000;
  setTimeout(
    () => stop(target, `the worker timed out after ${config.timeoutSeconds} s`),
    config.timeoutSeconds * 1000,
  );
  process.on('SIGTERM', () => stop(target, 'the worker was stopped (SIGTERM)'));
  process.on('SIGINT', () => stop(target, 'the worker was stopped (SIGINT)'));

  const store = new DynamoRunStore(documentClient(), config.tableName);
  checkLease = async (l) => staleLeaseReason(await store.getRun(l.runId), l);
  // Between the checkpoints too: a worker whose attempt went stale (its execution ended, a newer
  // attempt took over) stops itself within LEASE_CHECK_SECONDS instead of working on for nothing.
  const leaseTimer = setInterval(() => {
    const current = lease;
    if (!current || !checkLease || stopping || finished) return;
    checkLease(current)
      .then((reason) => {
        if (reason) stop(target, `stale attempt: ${reason}`);
      })
      .catch(() => undefined); // an unreadable store is checked again at the next checkpoint
  }, config.leaseCheckSeconds * 1000);
  leaseTimer.unref();
  const result = await runWorker({
    checkLease,
    onLease: (l) => {
      lease = l;
    },
    config,
    s3: s3Client(),
    coder: createCoder(config),
    progress: runStoreProgress(store, config.runId, (line) => log.line(line)),
    log,
    deadline,
    isStopping: () => stopping,
  });
  if (stopping) return; // stop() reports
  await finish(target, result);
}

if (process.argv[2] === SELF_CHECK_SUBCOMMAND) {
  void runSelfCheckCommand(process.argv.slice(3)).then((code) => {
    // Exit once the report is flushed (a browser or child left behind must not hold the agent).
    process.stdout.write('', () => process.exit(code));
  });
} else {
  main().catch((err: unknown) => {
    log.line(`worker: crashed (${err instanceof Error ? err.name : 'Error'})`);
    void finish(loadReportTarget(), { ok: false, code: 'internal', reason: 'the worker crashed' });
  });
}
