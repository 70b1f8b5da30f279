import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { log } from '../../log.ts';
import type { ExecutionEvent, ExecutionStatus } from './runner.ts';

/**
 * Execution records of the local Step Functions endpoint, persisted as one JSON file
 * (`<dataDir>/sfn/executions.json`) so that execution names stay unique across restarts, like
 * AWS's rule that a Standard execution name cannot be reused for 90 days.
 *
 * Executions do not survive a restart: a record still RUNNING when the file is loaded belongs to
 * a process that died (or was stopped) mid-run, so it is marked ABORTED with error
 * `LocalStackRestarted`. As with StopExecution on AWS, no Catch or FailRun runs for it; the
 * run's own record is left to whoever reconciles runs. Closed records older than 90 days are
 * dropped, which frees their names, as on AWS.
 */

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  /** The input as given to StartExecution (a JSON string). */
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  /** Epoch milliseconds. */
  startDate: number;
  stopDate?: number;
  history: ExecutionEvent[];
}

interface StoreFile {
  version: 1;
  executions: ExecutionRecord[];
}

export const NAME_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

export class ExecutionStore {
  private readonly records = new Map<string, ExecutionRecord>();
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(private readonly file: string) {}

  /** Loads the file (if any), aborting records left RUNNING by a previous process. */
  static open(file: string, now = Date.now()): ExecutionStore {
    const store = new ExecutionStore(file);
    let parsed: StoreFile | undefined;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as StoreFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        // Keep the unreadable file for inspection rather than silently reusing names.
        const aside = `${file}.unreadable-${now}`;
        renameSync(file, aside);
        throw new Error(
          `the local execution store ${file} is unreadable (moved to ${aside}): ${String(err)}`,
        );
      }
    }
    let changed = false;
    for (const record of parsed?.executions ?? []) {
      if (
        record.status !== 'RUNNING' &&
        record.stopDate !== undefined &&
        now - record.stopDate > NAME_RETENTION_MS
      ) {
        changed = true;
        continue;
      }
      if (record.status === 'RUNNING') {
        record.status = 'ABORTED';
        record.error = 'LocalStackRestarted';
        record.cause =
          'The local stack stopped while this execution was running; local executions do not resume after a restart.';
        record.stopDate = now;
        record.history.push({
          type: 'ExecutionAborted',
          timestamp: now,
          error: record.error,
          cause: record.cause,
        });
        changed = true;
      }
      store.records.set(record.executionArn, record);
    }
    if (changed) store.writeSync();
    return store;
  }

  get(executionArn: string): ExecutionRecord | undefined {
    return this.records.get(executionArn);
  }

  all(): ExecutionRecord[] {
    return [...this.records.values()];
  }

  /** Adds or replaces a record and schedules a write. */
  put(record: ExecutionRecord): void {
    this.records.set(record.executionArn, record);
    this.save();
  }

  /** Schedules a write of the current records (coalesced; writes never interleave). */
  save(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.writing = this.writing
      .then(async () => {
        this.dirty = false;
        const tmp = `${this.file}.${process.pid}.tmp`;
        mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
        await writeFile(tmp, this.serialize(), { mode: 0o600 });
        await rename(tmp, this.file);
      })
      .catch((err: unknown) => {
        log.error('local sfn: could not save the execution store', { file: this.file, error: err });
      });
  }

  /** Resolves when every scheduled write is on disk. */
  async flush(): Promise<void> {
    while (true) {
      const pending = this.writing;
      await pending;
      if (pending === this.writing && !this.dirty) return;
    }
  }

  private serialize(): string {
    const data: StoreFile = { version: 1, executions: this.all() };
    return `${JSON.stringify(data)}\n`;
  }

  private writeSync(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, this.serialize(), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
