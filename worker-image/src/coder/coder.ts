import type { BuildSpec } from '../../../lib/domain/build-spec.ts';

/**
 * A coder modifies a checked-out worktree of the template repository so that the template's one
 * build command (`go run ./tools/build`) produces the requested tool. Coders never build, upload or
 * publish: the worker does that, and only verification promotes artifacts.
 */
export interface CoderInput {
  /** Absolute path of the run's worktree (template repository checkout). */
  worktree: string;
  spec: BuildSpec;
  /** 1 for the first attempt; higher for repair attempts. */
  attempt: number;
  /** Internal reason the previous attempt failed (build or verification), for repair. */
  previousFailure?: string;
  /** Internal log line (never shown to the customer). */
  log: (line: string) => void;
}

export type CoderFailureCode = 'no_matching_recipe' | 'coder_failed';

export type CoderResult =
  | { ok: true; summary: string }
  | { ok: false; code: CoderFailureCode; reason: string };

export interface Coder {
  readonly name: string;
  code(input: CoderInput): Promise<CoderResult>;
}
