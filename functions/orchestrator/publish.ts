import { publish } from '../../lib/app/orchestrator/publish.ts';
import { taskHandler } from './task.ts';

/** Step Functions task `Publish` (state-machines/build-run.asl.json). */
export const handler = taskHandler('Publish', publish);
