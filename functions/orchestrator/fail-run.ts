import { failRun } from '../../lib/app/orchestrator/fail-run.ts';
import { taskHandler } from './task.ts';

/** Step Functions task `FailRun` (state-machines/build-run.asl.json). */
export const handler = taskHandler('FailRun', failRun);
