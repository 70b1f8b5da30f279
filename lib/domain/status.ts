import { z } from 'zod';
import type { Phase } from './phases.ts';

/** Customer-safe failure codes; each maps to one fixed sentence. Internal detail lives elsewhere. */
export const FAILURE_SENTENCES = {
  no_matching_recipe:
    'We could not match this request to a tool we can build and verify yet. Nothing will be charged.',
  verification_failed:
    'The build failed verification after every repair attempt. Nothing unverified was delivered.',
  worker_failed: 'The build worker could not finish this tool. Nothing unverified was delivered.',
  infrastructure:
    'Our build systems had a technical problem, so the build could not be completed. This was not a problem with your request, and nothing unverified was delivered.',
  timeout: 'The build took longer than allowed and was stopped. Nothing unverified was delivered.',
  internal_error: 'Something went wrong on our side. Nothing unverified was delivered.',
  cancelled: 'The build run was cancelled.',
} as const;
export type FailureCode = keyof typeof FAILURE_SENTENCES;
export const FailureCodeSchema = z.enum(Object.keys(FAILURE_SENTENCES) as [FailureCode, ...FailureCode[]]);

/** The public status sentence for each phase. */
export const PHASE_SENTENCES: Record<Phase, string> = {
  drafting: 'Tell me about the tool you need.',
  quoted: 'The scope and price are ready for your approval.',
  authorized: 'Approved. The build is about to start.',
  repo_ready: 'The build workspace is prepared.',
  worker_running: 'The build worker is implementing your tool.',
  artifact_pending: 'The artifact is being verified.',
  artifact_ready: 'Your verified artifact is ready.',
  delivered: 'Your verified artifact has been delivered.',
  failed: 'The build run stopped.',
};

/** The status sentence while a change to a delivered tool is quoted or built (the tool stays delivered). */
export const REVISION_PHASE_SENTENCES: Partial<Record<Phase, string>> = {
  quoted: 'The change and its price are ready for your approval. Your current version stays available.',
  authorized: 'Change approved. The new version is about to be built.',
  repo_ready: 'The new version’s workspace is prepared.',
  worker_running: 'The build worker is making your change.',
  artifact_pending: 'The new version is being verified.',
};

/** A change that could not be built leaves the current version delivered. */
export function revisionFailedSentence(current: number): string {
  return `The change could not be finished. Version ${current} is still delivered and unchanged; you can ask for another change.`;
}
