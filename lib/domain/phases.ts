import { z } from 'zod';
import { DomainError } from './errors.ts';

/** The nine lifecycle phases of the seed, in their happy-path order. */
export const PHASES = [
  'drafting',
  'quoted',
  'authorized',
  'repo_ready',
  'worker_running',
  'artifact_pending',
  'artifact_ready',
  'delivered',
  'failed',
] as const;

export const PhaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof PhaseSchema>;

/**
 * Allowed transitions. `failed` is reachable from every live phase; a failed run can be
 * reopened by an operator (`failed → authorized`, a new attempt and execution).
 * `artifact_pending → worker_running` is the repair loop.
 */
export const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  drafting: ['quoted', 'failed'],
  quoted: ['drafting', 'authorized', 'failed'],
  authorized: ['repo_ready', 'failed'],
  repo_ready: ['worker_running', 'failed'],
  worker_running: ['artifact_pending', 'failed'],
  artifact_pending: ['artifact_ready', 'worker_running', 'failed'],
  artifact_ready: ['delivered'],
  delivered: [],
  // An operator retry: straight back to `authorized`, or to `quoted` when the visitor must pay
  // again (a card-paid run whose authorization was released).
  failed: ['authorized', 'quoted'],
};

export const TERMINAL_PHASES: readonly Phase[] = ['delivered', 'failed'];

export function canTransition(from: Phase, to: Phase): boolean {
  return TRANSITIONS[from].includes(to);
}

export class IllegalTransitionError extends DomainError {
  constructor(
    readonly from: Phase,
    readonly to: Phase,
  ) {
    super('illegal_transition', `This build run cannot move from ${from} to ${to}.`, 409);
  }
}

export function assertTransition(from: Phase, to: Phase): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}
