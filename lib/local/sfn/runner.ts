import { join } from 'node:path';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { LAMBDA_TASKS, type LambdaTaskDef, WORKER_STATE } from '../../../state-machines/tasks.ts';
import { type LocalAwsIds, loadLocalDefinition } from './definition.ts';
import { AslTaskError } from './errors.ts';
import { type HandlerLoader, lambdaInvokeTask, moduleHandlerLoader } from './lambda-task.ts';
import { type RunTaskParameters, type WorkerProcessOptions, WorkerSlot } from './worker-task.ts';

/**
 * Runs executions of the build-run state machine locally with aws-local-stepfunctions: every
 * `lambda:invoke` Task state is mapped to its handler module (lambda-task.ts) and the worker
 * state to a child process (worker-task.ts). Choice/Retry/Catch/Fail semantics are the library's.
 */

type Overrides = NonNullable<RunOptions['overrides']>;
type LocalHandlers = NonNullable<Overrides['taskResourceLocalHandlers']>;
type LocalHandler = LocalHandlers[string];
type JsonValue = Parameters<LocalHandler>[0];

export interface WorkerOptions extends WorkerProcessOptions {
  /** Replaces the worker state's `TimeoutSeconds` (whole seconds ≥ 1). */
  timeoutSeconds?: number;
}

export interface RunnerOptions extends LocalAwsIds {
  /** Repository root: handler entries, the ASL file and the default worker program are under it. */
  root: string;
  /** Local data dir; worker logs go to `<dataDir>/logs/`. */
  dataDir: string;
  /** An already substituted definition. Default: the ASL file loaded by `loadLocalDefinition`. */
  definition?: StateMachineDefinition;
  /** ASL file relative to root (or absolute) when `definition` is not given. */
  aslFile?: string;
  /** State name → handler module mapping. Default: `LAMBDA_TASKS`. */
  tasks?: readonly LambdaTaskDef[];
  /** Name of the ecs:runTask.sync state. Default: `WORKER_STATE` ('RunWorker'). */
  workerState?: string;
  /** Loads a task's handler. Default: imports `<root>/<entry>` and takes its `handler` export. */
  loadHandler?: HandlerLoader;
  worker?: WorkerOptions;
  /** Replaces every Retry interval with this many milliseconds (tests). */
  retryIntervalMs?: number;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export type ExecutionOutcome =
  | { status: 'SUCCEEDED'; output: string }
  | { status: 'FAILED' | 'TIMED_OUT' | 'ABORTED'; error?: string; cause?: string };

/** A history event in Step Functions' vocabulary (`TaskStateEntered`, `TaskFailed` …). */
export interface ExecutionEvent {
  type: string;
  timestamp: number;
  name?: string;
  error?: string;
  cause?: string;
}

export interface ExecutionMeta {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  startDate: Date;
  onEvent?: (event: ExecutionEvent) => void;
}

export interface LocalExecution {
  /** Settles when the execution ends; never rejects. */
  readonly outcome: Promise<ExecutionOutcome>;
  /** Aborts the execution and stops its worker (StopExecution). */
  stop(): void;
  /** Resolves when the execution's worker process (if any) is gone. */
  workerIdle(): Promise<void>;
}

interface LibraryEvent {
  type: string;
  timestamp?: number;
  state?: { name?: string; type?: string };
  Error?: unknown;
  Cause?: unknown;
}

/** The definition's states as plain records (the library's state union has no index signature). */
function statesOf(definition: StateMachineDefinition): Record<string, Record<string, unknown>> {
  return definition.States as unknown as Record<string, Record<string, unknown>>;
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (typeof cause === 'string') return cause;
  if (cause instanceof Error) return cause.message;
  return JSON.stringify(cause);
}

export class LocalStateMachineRunner {
  readonly definition: StateMachineDefinition;
  private readonly machine: StateMachine;
  private readonly tasks: readonly LambdaTaskDef[];
  private readonly workerState: string;
  private readonly loadHandler: HandlerLoader;
  private readonly workerTimeoutMs: number;
  private readonly retryOverrides: Record<string, number> | undefined;
  private readonly slots = new Set<WorkerSlot>();

  static async create(opts: RunnerOptions): Promise<LocalStateMachineRunner> {
    const definition =
      opts.definition ??
      (await loadLocalDefinition(opts.root, {
        ...(opts.aslFile === undefined ? {} : { aslFile: opts.aslFile }),
        ...(opts.tasks === undefined ? {} : { tasks: opts.tasks }),
        ...(opts.region === undefined ? {} : { region: opts.region }),
        ...(opts.accountId === undefined ? {} : { accountId: opts.accountId }),
      }));
    return new LocalStateMachineRunner(opts, definition);
  }

  private constructor(
    private readonly opts: RunnerOptions,
    definition: StateMachineDefinition,
  ) {
    this.tasks = opts.tasks ?? LAMBDA_TASKS;
    this.workerState = opts.workerState ?? WORKER_STATE;
    this.loadHandler = opts.loadHandler ?? moduleHandlerLoader(opts.root);
    const states = statesOf(definition);
    for (const task of this.tasks) {
      if (states[task.state]?.Type !== 'Task')
        throw new Error(`the definition has no Task state ${task.state}`);
    }
    const override = opts.worker?.timeoutSeconds;
    const worker = states[this.workerState];
    if (worker && override !== undefined) {
      if (!Number.isInteger(override) || override < 1)
        throw new Error('worker.timeoutSeconds must be an integer ≥ 1');
      // aws-local-stepfunctions enforces TimeoutSeconds itself (it raises States.Timeout); the
      // worker slot stops the process at the same moment.
      definition = structuredClone(definition);
      statesOf(definition)[this.workerState] = { ...worker, TimeoutSeconds: override };
    }
    const timeout = statesOf(definition)[this.workerState]?.TimeoutSeconds;
    // 60 s is the library's default for a Task without TimeoutSeconds.
    this.workerTimeoutMs = (typeof timeout === 'number' ? timeout : 60) * 1000;
    this.definition = definition;
    this.machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
    if (opts.retryIntervalMs !== undefined) {
      this.retryOverrides = {};
      for (const [name, state] of Object.entries(statesOf(definition))) {
        if (Array.isArray(state.Retry)) this.retryOverrides[name] = opts.retryIntervalMs;
      }
    }
  }

  /** Resolves when no worker process of any execution is alive. */
  async idle(): Promise<void> {
    await Promise.all([...this.slots].map((s) => s.idle()));
  }

  start(input: unknown, meta: ExecutionMeta): LocalExecution {
    const slot = new WorkerSlot(this.opts.root, join(this.opts.dataDir, 'logs'), {
      ...this.opts.worker,
      dataDir: this.opts.dataDir,
    });
    this.slots.add(slot);
    let closed = false;
    const guard = () => {
      // The library finishes the state in flight after an abort (and may even retry it): nothing
      // new may run once the execution is closed.
      if (closed) throw new AslTaskError('States.Runtime', 'the execution is no longer running');
    };

    const ids: LocalAwsIds = {
      ...(this.opts.region === undefined ? {} : { region: this.opts.region }),
      ...(this.opts.accountId === undefined ? {} : { accountId: this.opts.accountId }),
    };
    const handlers: LocalHandlers = {};
    for (const task of this.tasks) {
      const invoke = lambdaInvokeTask(task, this.loadHandler, ids);
      handlers[task.state] = async (parameters) => {
        guard();
        return (await invoke(parameters)) as unknown as JsonValue;
      };
    }
    if (statesOf(this.definition)[this.workerState]) {
      handlers[this.workerState] = async (parameters) => {
        guard();
        return (await slot.runTask(parameters as RunTaskParameters, this.workerTimeoutMs)) as JsonValue;
      };
    }

    const stateMachineName = meta.stateMachineArn.split(':').pop() ?? 'build-run';
    const run = this.machine.run(input as JsonValue, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        ...(this.retryOverrides ? { retryIntervalOverrides: this.retryOverrides } : {}),
      },
      context: {
        Execution: {
          Id: meta.executionArn,
          Name: meta.name,
          StartTime: meta.startDate.toISOString(),
          RoleArn: `arn:aws:iam::${this.opts.accountId ?? '000000000000'}:role/local-build-run`,
        },
        StateMachine: { Id: meta.stateMachineArn, Name: stateMachineName },
      },
    });
    void this.forwardEvents(run.eventLogs, meta.onEvent);

    const outcome = run.result.then(
      (output): ExecutionOutcome => ({ status: 'SUCCEEDED', output: JSON.stringify(output ?? null) }),
      (err: unknown): ExecutionOutcome => {
        if (err instanceof ExecutionAbortedError) return { status: 'ABORTED' };
        if (err instanceof ExecutionTimeoutError) {
          return { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution timed out.' };
        }
        if (err instanceof ExecutionError && err.cause instanceof Error) {
          const cause = causeText(err.cause.message);
          return { status: 'FAILED', error: err.cause.name, ...(cause === undefined ? {} : { cause }) };
        }
        return {
          status: 'FAILED',
          error: 'States.Runtime',
          cause: err instanceof Error ? err.message : String(err),
        };
      },
    );
    const settled = outcome.then((o) => {
      closed = true;
      if (o.status !== 'SUCCEEDED') slot.close(o.status);
      void slot.idle().then(() => this.slots.delete(slot));
      return o;
    });
    return {
      outcome: settled,
      stop: () => {
        closed = true;
        slot.close('stopped');
        run.abort();
      },
      workerIdle: () => slot.idle(),
    };
  }

  private async forwardEvents(
    events: AsyncGenerator<unknown>,
    onEvent: ((event: ExecutionEvent) => void) | undefined,
  ): Promise<void> {
    try {
      for await (const raw of events) {
        const e = raw as LibraryEvent;
        const timestamp = e.timestamp ?? Date.now();
        const name = e.state?.name;
        const type = e.state?.type ?? '';
        let event: ExecutionEvent | undefined;
        if (e.type === 'ExecutionStarted') event = { type: 'ExecutionStarted', timestamp };
        else if (e.type === 'StateEntered')
          event = { type: `${type}StateEntered`, timestamp, ...(name ? { name } : {}) };
        else if (e.type === 'StateExited')
          event = { type: `${type}StateExited`, timestamp, ...(name ? { name } : {}) };
        else if (e.type === 'StateFailed' && type === 'Task') {
          const error = typeof e.Error === 'string' ? e.Error : 'States.Runtime';
          const cause = causeText(e.Cause);
          event = {
            type: error === 'States.Timeout' ? 'TaskTimedOut' : 'TaskFailed',
            timestamp,
            ...(name ? { name } : {}),
            error,
            ...(cause === undefined ? {} : { cause }),
          };
        }
        if (event) onEvent?.(event);
      }
    } catch {
      // Event forwarding is best effort.
    }
  }
}
