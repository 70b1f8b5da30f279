import { prepareBranch } from '../../lib/app/orchestrator/prepare-branch.ts';
import { taskHandler } from './task.ts';

/** Step Functions task `PrepareBranch` (state-machines/build-run.asl.json). */
export const handler = taskHandler('PrepareBranch', prepareBranch);
