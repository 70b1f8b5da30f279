import { recordWorkerFailure } from '../../lib/app/orchestrator/record-worker-failure.ts';
import { taskHandler } from './task.ts';

/** Step Functions task `RecordWorkerFailure` (state-machines/build-run.asl.json). */
export const handler = taskHandler('RecordWorkerFailure', recordWorkerFailure);
