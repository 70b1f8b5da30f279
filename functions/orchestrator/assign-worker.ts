import { assignWorker } from '../../lib/app/orchestrator/assign-worker.ts';
import { taskHandler } from './task.ts';

/** Step Functions task `AssignWorker` (state-machines/build-run.asl.json). */
export const handler = taskHandler('AssignWorker', assignWorker);
