import { RUN_ID_PATTERN } from '../domain/ids.ts';

/**
 * The S3 key layout. Only these functions build keys, from validated ids; nothing a visitor
 * types reaches a key.
 *
 * | bucket    | key                                              | written by        |
 * |-----------|--------------------------------------------------|-------------------|
 * | staging   | assignments/{run_id}/{attempt}.json              | AssignWorker      |
 * | staging   | candidates/{run_id}/{attempt}/{relative path}    | worker            |
 * | evidence  | runs/{run_id}/{attempt}/worker.log               | worker            |
 * | evidence  | runs/{run_id}/{attempt}/result.json              | worker            |
 * | evidence  | runs/{run_id}/{attempt}/verification.json        | VerifyArtifacts   |
 * | evidence  | runs/{run_id}/{attempt}/screenshot-{artifact_id}.png | VerifyArtifacts |
 * | artifacts | runs/{run_id}/{artifact_id}/{relative path}      | Publish (only)    |
 * | artifacts | runs/{run_id}/_receipts/{artifact_id}/screenshot.png | Publish (only) |
 *
 * The receipt's screenshot sits beside the published artifact, outside its tree (an artifact id
 * never starts with `_`, so no artifact's files and no preview prefix can reach it).
 */
function checkRun(runId: string): string {
  if (!RUN_ID_PATTERN.test(runId)) throw new Error('invalid run id for a key');
  return runId;
}
function checkAttempt(attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > 99) throw new Error('invalid attempt for a key');
  return attempt;
}
function checkArtifact(artifactId: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(artifactId)) throw new Error('invalid artifact id for a key');
  return artifactId;
}
function checkRelative(path: string): string {
  const parts = path.split('/');
  if (
    !path ||
    path.startsWith('/') ||
    parts.some((p) => p === '' || p === '.' || p === '..') ||
    /[\\\0]/.test(path)
  )
    throw new Error('invalid relative path for a key');
  return path;
}

export const keys = {
  assignment: (runId: string, attempt: number) =>
    `assignments/${checkRun(runId)}/${checkAttempt(attempt)}.json`,
  candidatePrefix: (runId: string, attempt: number) =>
    `candidates/${checkRun(runId)}/${checkAttempt(attempt)}/`,
  candidate: (runId: string, attempt: number, rel: string) =>
    `candidates/${checkRun(runId)}/${checkAttempt(attempt)}/${checkRelative(rel)}`,
  workerResult: (runId: string, attempt: number) =>
    `runs/${checkRun(runId)}/${checkAttempt(attempt)}/result.json`,
  workerLog: (runId: string, attempt: number) =>
    `runs/${checkRun(runId)}/${checkAttempt(attempt)}/worker.log`,
  verification: (runId: string, attempt: number) =>
    `runs/${checkRun(runId)}/${checkAttempt(attempt)}/verification.json`,
  published: (runId: string, artifactId: string, rel: string) =>
    `runs/${checkRun(runId)}/${checkArtifact(artifactId)}/${checkRelative(rel)}`,
  checkScreenshot: (runId: string, attempt: number, artifactId: string) =>
    `runs/${checkRun(runId)}/${checkAttempt(attempt)}/screenshot-${checkArtifact(artifactId)}.png`,
  receiptScreenshot: (runId: string, artifactId: string) =>
    `runs/${checkRun(runId)}/_receipts/${checkArtifact(artifactId)}/screenshot.png`,
};
