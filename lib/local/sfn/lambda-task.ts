import { randomUUID } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { LambdaTaskDef } from '../../../state-machines/tasks.ts';
import { type LocalAwsIds, localFunctionArn } from './definition.ts';
import { AslTaskError } from './errors.ts';

/**
 * Local emulation of the `arn:aws:states:::lambda:invoke` integration: the Task's evaluated
 * Parameters `{ FunctionName, Payload }` go to the same handler module the Lambda runs, in this
 * process, and the result comes back in the integration's shape, so `OutputPath: $.Payload`
 * works as on AWS.
 *
 * Errors surface the way Lambda + Step Functions surface them:
 * - a handler that throws → ASL error = the error's `name` (what the Node.js runtime reports as
 *   `errorType`: `Error`, `TypeError`, `TransientError` …), Cause = the runtime's error payload as
 *   a JSON string `{"errorType","errorMessage","trace"}`;
 * - the function's own timeout (`LambdaTaskDef.timeout`) elapsing → `Sandbox.Timedout`;
 * - a module that cannot be imported → `Runtime.ImportModuleError`; no `handler` export →
 *   `Runtime.HandlerNotFound`; a result that is not JSON → `Runtime.MarshalError`;
 * - a FunctionName that is not this task's function → `Lambda.ResourceNotFoundException`.
 */

export type LambdaHandler = (event: unknown, context: Context) => unknown;
export type HandlerLoader = (task: LambdaTaskDef) => Promise<LambdaHandler>;

export interface LambdaInvokeResult {
  Payload: unknown;
  StatusCode: 200;
  ExecutedVersion: '$LATEST';
}

/** Imports `join(root, task.entry)` once per entry and returns its `handler` export. */
export function moduleHandlerLoader(root: string): HandlerLoader {
  const cache = new Map<string, Promise<LambdaHandler>>();
  return (task) => {
    const file = isAbsolute(task.entry) ? task.entry : join(root, task.entry);
    let loading = cache.get(file);
    if (!loading) {
      loading = importHandler(file);
      cache.set(file, loading);
      // A failed import is not cached: fixing the file and retrying works without a restart.
      loading.catch(() => cache.delete(file));
    }
    return loading;
  };
}

async function importHandler(file: string): Promise<LambdaHandler> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw runtimeError(
      'Runtime.ImportModuleError',
      `Error: Cannot load handler module ${file}: ${message(err)}`,
    );
  }
  const handler = mod.handler;
  if (typeof handler !== 'function') {
    throw runtimeError('Runtime.HandlerNotFound', `${file}.handler is undefined or not exported`);
  }
  return handler as LambdaHandler;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The Cause Step Functions shows for a failed Lambda: the runtime's error payload as JSON. */
export function lambdaErrorCause(errorType: string, errorMessage: string, trace: string[] = []): string {
  return JSON.stringify({ errorType, errorMessage, trace });
}

function runtimeError(errorType: string, errorMessage: string): AslTaskError {
  return new AslTaskError(errorType, lambdaErrorCause(errorType, errorMessage));
}

function handlerError(err: unknown): AslTaskError {
  if (err instanceof AslTaskError) return err;
  if (err instanceof Error) {
    const errorType = err.name || 'Error';
    return new AslTaskError(
      errorType,
      lambdaErrorCause(errorType, err.message, err.stack?.split('\n') ?? []),
    );
  }
  return new AslTaskError('Error', lambdaErrorCause('Error', String(err)));
}

function fakeContext(task: LambdaTaskDef, ids: LocalAwsIds, deadline: number): Context {
  const functionName = `local-${task.state}`;
  const unsupported = () => {
    throw new Error('context.done/fail/succeed are not supported; return a value or throw');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: localFunctionArn(task.state, ids),
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

function jsonCopy(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/** The local handler of one `lambda:invoke` Task state. */
export function lambdaInvokeTask(
  task: LambdaTaskDef,
  load: HandlerLoader,
  ids: LocalAwsIds = {},
): (parameters: unknown) => Promise<LambdaInvokeResult> {
  const expectedArn = localFunctionArn(task.state, ids);
  return async (parameters) => {
    const { FunctionName, Payload } = (parameters ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    if (FunctionName !== expectedArn && FunctionName !== `local-${task.state}`) {
      throw new AslTaskError(
        'Lambda.ResourceNotFoundException',
        `Function not found: ${String(FunctionName)} (the local ${task.state} function is ${expectedArn})`,
      );
    }
    const handler = await load(task);
    const timeoutMs = task.timeout * 1000;
    const deadline = Date.now() + timeoutMs;
    const context = fakeContext(task, ids, deadline);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const errorMessage = `RequestId: ${context.awsRequestId} Error: Task timed out after ${task.timeout.toFixed(2)} seconds`;
        reject(runtimeError('Sandbox.Timedout', errorMessage));
      }, timeoutMs);
    });
    let result: unknown;
    try {
      result = await Promise.race([
        Promise.resolve().then(() => handler(jsonCopy(Payload), context)),
        timedOut,
      ]);
    } catch (err) {
      throw handlerError(err);
    } finally {
      clearTimeout(timer);
    }
    let payload: unknown;
    try {
      payload = jsonCopy(result);
    } catch (err) {
      throw runtimeError('Runtime.MarshalError', `Unable to marshal response: ${message(err)}`);
    }
    return { Payload: payload, StatusCode: 200, ExecutedVersion: '$LATEST' };
  };
}
