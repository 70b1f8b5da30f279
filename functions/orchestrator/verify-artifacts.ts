import { verifyArtifacts } from '../../lib/app/orchestrator/verify-artifacts.ts';
import { taskHandler } from './task.ts';

/** Step Functions task `VerifyArtifacts` (state-machines/build-run.asl.json). */
export const handler = taskHandler('VerifyArtifacts', verifyArtifacts);
