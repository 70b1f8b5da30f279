import { NO_SOURCE_RULE, PROGRESS_STYLE, type WorkerAssignment } from '../../lib/domain/assignment.ts';

/**
 * The artifact-builder worker profile: the fixed parts of every worker assignment for the Go
 * template (`template-repo/`). The orchestrator (AssignWorker) copies these fields into each
 * assignment; the worker runs exactly what the assignment says, so a future template or profile
 * changes here, not in the worker.
 *
 * Commands are argv arrays, run from the repository root without a shell. The worker adds
 * `ARTIFACT_TYPE`, `PLATFORMS` and `RUN_ID` from the assignment to their environment.
 * `verificationCommands` are informational for coders (they are the template's own self-check);
 * the worker does not run them — the verification gate (VerifyArtifacts) is authoritative.
 */
export type WorkerProfile = Pick<
  WorkerAssignment,
  'buildCommands' | 'testCommands' | 'verificationCommands' | 'manifestPath' | 'rules' | 'progressStyle'
>;

/** The folder every candidate file comes from; nothing outside it is ever uploaded. */
export const DIST_DIR = 'dist';

export const ARTIFACT_BUILDER_PROFILE: Readonly<WorkerProfile> = Object.freeze({
  testCommands: [
    ['go', 'vet', './...'],
    ['go', 'test', './...'],
  ],
  buildCommands: [['go', 'run', './tools/build']],
  verificationCommands: ['go run ./tools/build verify'],
  manifestPath: `${DIST_DIR}/artifact-manifest.json`,
  rules: [
    NO_SOURCE_RULE,
    'Follow AGENTS.md in the repository: change only tool/, web/ and app.json; never edit the frame (main.go, serve.go, internal/, tools/build/, go.mod).',
    'Go 1.19, standard library only; no network access at build or test time.',
    'The build command alone writes dist/ and dist/artifact-manifest.json; never commit dist/, symlinks, archives or source maps.',
    'go vet ./... and go test ./... must pass before the build runs.',
  ],
  progressStyle: PROGRESS_STYLE,
});

/** A fresh, mutable copy of the profile's fields for one assignment. */
export function workerProfileFields(
  profile: Readonly<WorkerProfile> = ARTIFACT_BUILDER_PROFILE,
): WorkerProfile {
  return {
    buildCommands: profile.buildCommands.map((argv) => [...argv]),
    testCommands: profile.testCommands.map((argv) => [...argv]),
    verificationCommands: [...profile.verificationCommands],
    manifestPath: profile.manifestPath,
    rules: [...profile.rules],
    progressStyle: profile.progressStyle,
  };
}
