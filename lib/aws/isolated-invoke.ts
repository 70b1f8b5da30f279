import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import type { z } from 'zod';
import { SmokeRunnerError } from '../verify/smoke-binary.ts';

/**
 * Invokes one of the isolated verification functions (SmokeBinary, WebChecks) synchronously and
 * validates its answer with `schema`. A function error, a timeout or an unreadable answer is a
 * {@link SmokeRunnerError} (the runner's fault, retried by the state machine), never a verdict.
 */
export async function invokeIsolated<S extends z.ZodType>(
  lambda: LambdaClient,
  functionName: string,
  payload: unknown,
  schema: S,
  what: string,
): Promise<z.infer<S>> {
  let out: InvokeCommandOutput;
  try {
    out = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  } catch (err) {
    throw new SmokeRunnerError(`invoking the ${what} function failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
  if (out.FunctionError) {
    let message = '';
    try {
      message = String((JSON.parse(text) as { errorMessage?: unknown }).errorMessage ?? '');
    } catch {
      // not JSON
    }
    throw new SmokeRunnerError(
      `the ${what} function failed (${out.FunctionError})${message ? `: ${message.slice(0, 300)}` : ''}`,
    );
  }
  let parsed: ReturnType<S['safeParse']>;
  try {
    parsed = schema.safeParse(JSON.parse(text)) as ReturnType<S['safeParse']>;
  } catch {
    throw new SmokeRunnerError(`the ${what} function answered with no JSON`);
  }
  if (!parsed.success) throw new SmokeRunnerError(`the ${what} function answered with an invalid result`);
  return parsed.data as z.infer<S>;
}
