import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { keys } from '../../lib/aws/keys.ts';
import { type WorkerAssignment, WorkerAssignmentSchema } from '../../lib/domain/assignment.ts';
import { BRANCH_PATTERN } from '../../lib/domain/branch.ts';
import { DIST_DIR } from './profile.ts';

const MAX_ASSIGNMENT_BYTES = 1024 * 1024;

export class AssignmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssignmentError';
  }
}

/** Reads `assignments/{run_id}/{attempt}.json` from the staging bucket and validates it. */
export async function fetchAssignment(
  s3: S3Client,
  bucket: string,
  runId: string,
  attempt: number,
): Promise<WorkerAssignment> {
  const key = keys.assignment(runId, attempt);
  let body: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (out.ContentLength !== undefined && out.ContentLength > MAX_ASSIGNMENT_BYTES) {
      throw new AssignmentError('the assignment is too large');
    }
    body = (await out.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    if (err instanceof AssignmentError) throw err;
    const name = (err as { name?: string }).name ?? 'Error';
    throw new AssignmentError(`the assignment could not be read (${name})`);
  }
  if (Buffer.byteLength(body) > MAX_ASSIGNMENT_BYTES)
    throw new AssignmentError('the assignment is too large');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new AssignmentError('the assignment is not JSON');
  }
  return validateAssignment(json, runId, attempt);
}

/** Schema validation plus the checks that tie an assignment to this worker and keep it safe. */
export function validateAssignment(json: unknown, runId: string, attempt: number): WorkerAssignment {
  const parsed = WorkerAssignmentSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new AssignmentError(`the assignment is invalid: ${where}`);
  }
  const a = parsed.data;
  if (a.runId !== runId) throw new AssignmentError('the assignment belongs to another run');
  if (a.attempt !== attempt) throw new AssignmentError('the assignment is for another attempt');
  if (a.attempt > a.maxAttempts) throw new AssignmentError('the attempt exceeds maxAttempts');
  if (!BRANCH_PATTERN.test(a.branch) || !a.branch.endsWith(`/${runId}`)) {
    throw new AssignmentError('the assignment branch is not this run’s build branch');
  }
  for (const argv of [...a.testCommands, ...a.buildCommands]) {
    if (!argv[0]?.trim() || argv.some((arg) => arg.includes('\0'))) {
      throw new AssignmentError('the assignment has an invalid command');
    }
  }
  if (a.buildCommands.length === 0) throw new AssignmentError('the assignment has no build command');
  manifestRelativePath(a.manifestPath);
  if (a.spec.artifactType !== a.artifactType) {
    throw new AssignmentError('the assignment artifact type does not match its spec');
  }
  return a;
}

/**
 * The manifest's path relative to `dist/` (normally `artifact-manifest.json`). The manifest must
 * live inside dist/, because only dist/ is uploaded.
 */
export function manifestRelativePath(manifestPath: string): string {
  const parts = manifestPath.split('/');
  if (
    parts[0] !== DIST_DIR ||
    parts.length < 2 ||
    parts.some((p) => p === '' || p === '.' || p === '..') ||
    /[\\\0]/.test(manifestPath)
  ) {
    throw new AssignmentError(`the manifest path must be inside ${DIST_DIR}/`);
  }
  return parts.slice(1).join('/');
}
