import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LambdaTaskDef } from '../../../state-machines/tasks.ts';
import { log } from '../../log.ts';
import { listen } from '../listen.ts';
import { localStateMachineArn } from './definition.ts';
import type { HandlerLoader } from './lambda-task.ts';
import {
  type ExecutionEvent,
  type ExecutionOutcome,
  type ExecutionStatus,
  type LocalExecution,
  LocalStateMachineRunner,
  type WorkerOptions,
} from './runner.ts';
import { type ExecutionRecord, ExecutionStore } from './store.ts';

/**
 * A local Step Functions endpoint: a `node:http` server speaking the AWS JSON 1.0 protocol
 * (`POST /`, `X-Amz-Target: AWSStepFunctions.<Op>`, `Content-Type: application/x-amz-json-1.0`)
 * so the real `@aws-sdk/client-sfn` works against it through `AWS_ENDPOINT_URL_SFN`. It hosts one
 * state machine (the build-run ASL) and runs its executions with `LocalStateMachineRunner`.
 *
 * Operations: StartExecution, DescribeExecution, ListExecutions, StopExecution,
 * GetExecutionHistory, DescribeStateMachine. Anything else → 400 `UnknownOperationException`.
 * Errors are `{"__type": "<Name>", "message": "..."}` (+ `x-amzn-ErrorType`), which the SDK turns
 * into its modeled exceptions (`ExecutionAlreadyExists`, `ExecutionDoesNotExist` …).
 *
 * StartExecution follows AWS for Standard workflows: a name is unique (persisted across restarts,
 * see store.ts); the same name with the same input while that execution is still RUNNING returns
 * the original execution (idempotent, no second execution); otherwise → `ExecutionAlreadyExists`.
 *
 * Requests are not signature-checked: the endpoint listens on loopback and is internal.
 */

export interface LocalStepFunctionsOptions {
  root: string;
  dataDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Default: `arn:aws:states:<region>:000000000000:stateMachine:build-run`. */
  stateMachineArn?: string;
  region?: string;
  accountId?: string;
  /**
   * The worker child process. `timeoutSeconds` defaults to `WORKER_TIMEOUT_SECONDS_OVERRIDE`
   * from the environment when set, else the ASL's RunWorker TimeoutSeconds.
   */
  worker?: WorkerOptions;
  /** Replaces every Retry interval (ms); for tests. */
  retryIntervalMs?: number;
  /** For tests: an alternative definition / ASL file / task mapping / handler loader. */
  definition?: StateMachineDefinition;
  aslFile?: string;
  tasks?: readonly LambdaTaskDef[];
  workerState?: string;
  loadHandler?: HandlerLoader;
}

export interface LocalStepFunctions {
  /** `http://host:port`, for `AWS_ENDPOINT_URL_SFN`. */
  url: string;
  stateMachineArn: string;
  /** Stops the server; executions still running are aborted (`LocalStackStopped`). */
  stop(): Promise<void>;
  /** Resolves when no execution is running, no worker process is alive and records are saved. */
  waitForIdle(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_INPUT_BYTES = 256 * 1024;
/** AWS: no white space, brackets, wildcards, `"#%\^|~`$&,;:/` or control characters (\p{Cc}). */
const NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u;

class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

function stringMember(body: Record<string, unknown>, key: string, required: true): string;
function stringMember(body: Record<string, unknown>, key: string, required?: false): string | undefined;
function stringMember(body: Record<string, unknown>, key: string, required = false): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required)
      throw new ServiceError('ValidationException', `1 validation error detected: '${key}' is required`);
    return undefined;
  }
  if (typeof value !== 'string')
    throw new ServiceError('SerializationException', `'${key}' must be a string`);
  return value;
}

function envTimeoutOverride(): number | undefined {
  const raw = process.env.WORKER_TIMEOUT_SECONDS_OVERRIDE;
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error('WORKER_TIMEOUT_SECONDS_OVERRIDE must be an integer ≥ 1');
  return value;
}

export async function startLocalStepFunctions(opts: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const region = opts.region ?? 'us-east-1';
  const stateMachineArn =
    opts.stateMachineArn ??
    localStateMachineArn({ region, ...(opts.accountId === undefined ? {} : { accountId: opts.accountId }) });
  if (!/^arn:aws[a-z-]*:states:[^:]*:[^:]*:stateMachine:[^:]+$/.test(stateMachineArn)) {
    throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  }
  const executionPrefix = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:`;
  mkdirSync(join(opts.dataDir, 'sfn'), { recursive: true, mode: 0o700 });
  const store = ExecutionStore.open(join(opts.dataDir, 'sfn', 'executions.json'));

  const timeoutSeconds = opts.worker?.timeoutSeconds ?? envTimeoutOverride();
  const runner = await LocalStateMachineRunner.create({
    root: opts.root,
    dataDir: opts.dataDir,
    region,
    ...(opts.accountId === undefined ? {} : { accountId: opts.accountId }),
    ...(opts.definition === undefined ? {} : { definition: opts.definition }),
    ...(opts.aslFile === undefined ? {} : { aslFile: opts.aslFile }),
    ...(opts.tasks === undefined ? {} : { tasks: opts.tasks }),
    ...(opts.workerState === undefined ? {} : { workerState: opts.workerState }),
    ...(opts.loadHandler === undefined ? {} : { loadHandler: opts.loadHandler }),
    ...(opts.retryIntervalMs === undefined ? {} : { retryIntervalMs: opts.retryIntervalMs }),
    worker: { ...opts.worker, ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }) },
  });
  const createdAt = Date.now();

  interface Running {
    execution: LocalExecution;
    done: Promise<void>;
  }
  const running = new Map<string, Running>();

  const close = (record: ExecutionRecord, outcome: ExecutionOutcome, at = Date.now()): void => {
    if (record.status !== 'RUNNING') return;
    record.status = outcome.status;
    record.stopDate = at;
    if (outcome.status === 'SUCCEEDED') {
      record.output = outcome.output;
      record.history.push({ type: 'ExecutionSucceeded', timestamp: at });
    } else {
      if (outcome.error !== undefined) record.error = outcome.error;
      if (outcome.cause !== undefined) record.cause = outcome.cause;
      const type = { FAILED: 'ExecutionFailed', TIMED_OUT: 'ExecutionTimedOut', ABORTED: 'ExecutionAborted' }[
        outcome.status
      ];
      record.history.push({
        type,
        timestamp: at,
        ...(record.error === undefined ? {} : { error: record.error }),
        ...(record.cause === undefined ? {} : { cause: record.cause }),
      });
    }
    store.put(record);
  };

  const executionArnOf = (arn: string): string => {
    if (!/^arn:aws[a-z-]*:states:[^:]*:[^:]*:execution:[^:]+:[^:]+$/.test(arn)) {
      throw new ServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
    }
    return arn;
  };
  const recordOf = (arn: string): ExecutionRecord => {
    const record = store.get(executionArnOf(arn));
    if (!record) throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return record;
  };
  const checkStateMachine = (arn: string): void => {
    if (arn === stateMachineArn) return;
    if (!/^arn:aws[a-z-]*:states:[^:]*:[^:]*:stateMachine:[^:]+$/.test(arn)) {
      throw new ServiceError('InvalidArn', `Invalid Arn: '${arn}'`);
    }
    throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
  };

  const operations: Record<string, (body: Record<string, unknown>) => Promise<unknown> | unknown> = {
    StartExecution(body) {
      checkStateMachine(stringMember(body, 'stateMachineArn', true));
      const name = stringMember(body, 'name') ?? randomUUID();
      if (name.length < 1 || name.length > 80 || NAME_FORBIDDEN.test(name)) {
        throw new ServiceError('InvalidName', `Invalid Name: '${name}'`);
      }
      const input = stringMember(body, 'input') ?? '{}';
      if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
        throw new ServiceError(
          'InvalidExecutionInput',
          'The execution input exceeds the 262144 bytes limit.',
        );
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(input);
      } catch {
        throw new ServiceError(
          'InvalidExecutionInput',
          `Invalid State Machine Execution Input: '${input.slice(0, 100)}'`,
        );
      }
      const executionArn = `${executionPrefix}${name}`;
      const existing = store.get(executionArn);
      if (existing) {
        // AWS: idempotent for a RUNNING execution started with the same input; otherwise refused.
        if (existing.status === 'RUNNING' && existing.input === input) {
          return { executionArn, startDate: seconds(existing.startDate) };
        }
        throw new ServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      const startDate = Date.now();
      const record: ExecutionRecord = {
        executionArn,
        stateMachineArn,
        name,
        status: 'RUNNING',
        input,
        startDate,
        history: [],
      };
      store.put(record);
      const execution = runner.start(parsed, {
        executionArn,
        name,
        stateMachineArn,
        startDate: new Date(startDate),
        onEvent: (event: ExecutionEvent) => {
          if (record.status !== 'RUNNING') return;
          record.history.push(event);
          store.save();
        },
      });
      const done = execution.outcome
        .then((outcome) => {
          close(record, outcome);
          log.info('local sfn: execution ended', { name, status: record.status, error: record.error });
          return execution.workerIdle();
        })
        .finally(() => running.delete(executionArn));
      running.set(executionArn, { execution, done });
      log.info('local sfn: execution started', { name });
      return { executionArn, startDate: seconds(startDate) };
    },

    DescribeExecution(body) {
      const r = recordOf(stringMember(body, 'executionArn', true));
      return {
        executionArn: r.executionArn,
        stateMachineArn: r.stateMachineArn,
        name: r.name,
        status: r.status,
        startDate: seconds(r.startDate),
        stopDate: seconds(r.stopDate),
        input: r.input,
        inputDetails: { included: true },
        ...(r.output === undefined ? {} : { output: r.output, outputDetails: { included: true } }),
        ...(r.error === undefined ? {} : { error: r.error }),
        ...(r.cause === undefined ? {} : { cause: r.cause }),
        redriveCount: 0,
        redriveStatus: 'NOT_REDRIVABLE',
      };
    },

    ListExecutions(body) {
      checkStateMachine(stringMember(body, 'stateMachineArn', true));
      const statusFilter = stringMember(body, 'statusFilter');
      const statuses: ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
      if (statusFilter !== undefined && !(statuses as string[]).includes(statusFilter)) {
        throw new ServiceError('ValidationException', `Invalid statusFilter: '${statusFilter}'`);
      }
      const { offset, limit } = page(body);
      const matching = store
        .all()
        .filter((r) => r.stateMachineArn === stateMachineArn && (!statusFilter || r.status === statusFilter))
        .sort((a, b) => b.startDate - a.startDate || b.name.localeCompare(a.name));
      const slice = matching.slice(offset, offset + limit);
      return {
        executions: slice.map((r) => ({
          executionArn: r.executionArn,
          stateMachineArn: r.stateMachineArn,
          name: r.name,
          status: r.status,
          startDate: seconds(r.startDate),
          stopDate: seconds(r.stopDate),
          redriveCount: 0,
        })),
        ...(offset + limit < matching.length ? { nextToken: token(offset + limit) } : {}),
      };
    },

    StopExecution(body) {
      const record = recordOf(stringMember(body, 'executionArn', true));
      if (record.status === 'RUNNING') {
        const error = stringMember(body, 'error');
        const cause = stringMember(body, 'cause');
        close(record, {
          status: 'ABORTED',
          ...(error === undefined ? {} : { error }),
          ...(cause === undefined ? {} : { cause }),
        });
        running.get(record.executionArn)?.execution.stop();
      }
      return { stopDate: seconds(record.stopDate) };
    },

    GetExecutionHistory(body) {
      const record = recordOf(stringMember(body, 'executionArn', true));
      const events = record.history.map((e, i) => historyEvent(e, i + 1, record));
      if (body.reverseOrder === true) events.reverse();
      const { offset, limit } = page(body);
      return {
        events: events.slice(offset, offset + limit),
        ...(offset + limit < events.length ? { nextToken: token(offset + limit) } : {}),
      };
    },

    DescribeStateMachine(body) {
      checkStateMachine(stringMember(body, 'stateMachineArn', true));
      return {
        stateMachineArn,
        name: stateMachineArn.split(':').pop(),
        status: 'ACTIVE',
        definition: JSON.stringify(runner.definition),
        roleArn: `arn:aws:iam::${opts.accountId ?? '000000000000'}:role/local-build-run`,
        type: 'STANDARD',
        creationDate: seconds(createdAt),
      };
    },
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error('local sfn: request failed', { error: err });
      if (!res.headersSent) send(res, 500, { __type: 'InternalFailure', message: 'internal error' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const [service, op] = target.split('.', 2);
    const body = await readBody(req);
    if (body === undefined) {
      return sendError(res, new ServiceError('ValidationException', 'the request body is too large'));
    }
    const operation = service === 'AWSStepFunctions' && op ? operations[op] : undefined;
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/' || !operation) {
      return sendError(res, new ServiceError('UnknownOperationException', `Unknown operation: '${target}'`));
    }
    let parsed: unknown;
    try {
      parsed = body.length === 0 ? {} : JSON.parse(body);
    } catch {
      return sendError(res, new ServiceError('SerializationException', 'the request body is not JSON'));
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return sendError(
        res,
        new ServiceError('SerializationException', 'the request body is not a JSON object'),
      );
    }
    try {
      send(res, 200, await operation(parsed as Record<string, unknown>));
    } catch (err) {
      if (err instanceof ServiceError) return sendError(res, err);
      throw err;
    }
  }

  const address = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1', {
    service: 'Step Functions',
    envVar: 'SFN_PORT',
  });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const waitForIdle = async (): Promise<void> => {
    while (running.size > 0) await Promise.all([...running.values()].map((r) => r.done));
    await runner.idle();
    await store.flush();
  };

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    stateMachineArn,
    waitForIdle,
    stop: () => {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        for (const [arn, { execution }] of running) {
          const record = store.get(arn);
          if (record) {
            close(record, {
              status: 'ABORTED',
              error: 'LocalStackStopped',
              cause: 'The local Step Functions endpoint stopped while the execution was running.',
            });
          }
          execution.stop();
        }
        await waitForIdle();
        await closed;
      })();
      return stopping;
    },
  };
}

function page(body: Record<string, unknown>): { offset: number; limit: number } {
  const max = body.maxResults;
  const limit = typeof max === 'number' && max > 0 ? Math.min(Math.floor(max), 1000) : 100;
  const raw = body.nextToken;
  if (raw === undefined || raw === null) return { offset: 0, limit };
  const offset =
    typeof raw === 'string' ? Number(Buffer.from(raw, 'base64url').toString('utf8')) : Number.NaN;
  if (!Number.isInteger(offset) || offset < 0) throw new ServiceError('InvalidToken', 'Invalid token');
  return { offset, limit };
}

function token(offset: number): string {
  return Buffer.from(String(offset)).toString('base64url');
}

function historyEvent(e: ExecutionEvent, id: number, record: ExecutionRecord): Record<string, unknown> {
  const base = { timestamp: e.timestamp / 1000, type: e.type, id, previousEventId: id - 1 };
  const errorDetails = {
    ...(e.error === undefined ? {} : { error: e.error }),
    ...(e.cause === undefined ? {} : { cause: e.cause }),
  };
  if (e.type === 'ExecutionStarted') {
    return {
      ...base,
      executionStartedEventDetails: { input: record.input, inputDetails: { truncated: false } },
    };
  }
  if (e.type.endsWith('StateEntered')) return { ...base, stateEnteredEventDetails: { name: e.name } };
  if (e.type.endsWith('StateExited')) return { ...base, stateExitedEventDetails: { name: e.name } };
  if (e.type === 'TaskFailed' || e.type === 'TaskTimedOut') {
    const key = e.type === 'TaskFailed' ? 'taskFailedEventDetails' : 'taskTimedOutEventDetails';
    return { ...base, [key]: { resourceType: 'local', resource: e.name ?? '', ...errorDetails } };
  }
  if (e.type === 'ExecutionSucceeded') {
    return {
      ...base,
      executionSucceededEventDetails: { output: record.output, outputDetails: { truncated: false } },
    };
  }
  if (e.type === 'ExecutionFailed') return { ...base, executionFailedEventDetails: errorDetails };
  if (e.type === 'ExecutionAborted') return { ...base, executionAbortedEventDetails: errorDetails };
  if (e.type === 'ExecutionTimedOut') return { ...base, executionTimedOutEventDetails: errorDetails };
  return base;
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: ServiceError): void {
  res.setHeader('x-amzn-errortype', err.type);
  send(res, err.status, { __type: err.type, message: err.message });
}
