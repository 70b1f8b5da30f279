import type { BuildSpec } from '../../../lib/domain/build-spec.ts';
import type { CoderReport } from '../../../lib/domain/coder-report.ts';
import type { CommandSandbox } from '../command-user.ts';
import type { CoderProgress } from './progress-report.ts';

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
  /**
   * Set with `COMMAND_USER`: the commands a coder starts (tests, build, the external agent) run
   * as this user with its HOME/TMPDIR, and files the coder writes as root become the user's.
   */
  sandbox?: CommandSandbox;
  /** The clone's git directory when it is kept outside the worktree (with a sandbox). */
  gitDir?: string;
  /**
   * Customer-visible progress (validated reports only: an approved feature's number or a fixed
   * stage). Fire and forget: the worker rate-limits, deduplicates and records it.
   */
  progress?: (report: CoderProgress) => void;
  /**
   * A change to a delivered tool: the worktree holds version `baseVersion`'s working code, and
   * `spec` is the changed scope of version `version` (keep what works; make the change).
   */
  revision?: {
    version: number;
    baseVersion: number;
    baseFeatures: string[];
    basePlatforms: string[];
    baseArtifactType: 'web' | 'binary' | 'both';
    /** The change's first attempt: the worktree is exactly the base version (not a repair). */
    fromBase: boolean;
  };
}

export type { CoderReport };

export type CoderFailureCode = 'no_matching_recipe' | 'coder_failed';

export type CoderResult =
  | { ok: true; summary: string; report?: CoderReport }
  | { ok: false; code: CoderFailureCode; reason: string; report?: CoderReport };

export interface Coder {
  readonly name: string;
  /** True when the coder may call `input.progress` (model and command coders). */
  readonly reportsProgress?: boolean;
  code(input: CoderInput): Promise<CoderResult>;
}
