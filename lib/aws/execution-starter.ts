import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ExecutionStarter } from '../app/start-execution.ts';
import { sfnClient } from './clients.ts';
import { loadConfig } from './config.ts';

/**
 * How long before this call an execution's `startDate` must lie for the response to count as the
 * existing execution. Standard workflows answer a start with the name AND input of a RUNNING
 * execution with that execution (HTTP 200) instead of `ExecutionAlreadyExists`.
 */
const EXISTING_EXECUTION_SKEW_MS = 5_000;

/** `StartExecution` on the build-run state machine (a local Step Functions endpoint via env). */
export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(name: string, input: { runId: string }): Promise<{ started: boolean }> {
    const before = Date.now();
    try {
      const out = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      const startedAt = out.startDate instanceof Date ? out.startDate.getTime() : undefined;
      return { started: !(startedAt !== undefined && startedAt < before - EXISTING_EXECUTION_SKEW_MS) };
    } catch (err) {
      if ((err as { name?: string }).name === 'ExecutionAlreadyExists') return { started: false };
      throw err;
    }
  }
}

/** The starter from the environment (`STATE_MACHINE_ARN`). */
export function executionStarterFromEnv(env: NodeJS.ProcessEnv = process.env): SfnExecutionStarter {
  const arn = loadConfig(env).stateMachineArn;
  if (!arn) throw new Error('STATE_MACHINE_ARN is not set');
  return new SfnExecutionStarter(sfnClient(), arn);
}
