import type { AcceptanceCheck } from '../acceptance.ts';
import type { BuildSpec } from '../build-spec.ts';
import type { BuildRun, IntakeState } from '../run.ts';
import type { QuestionTopic } from './answers.ts';

/** A tool the configured coder can build (the offline recipe catalog, or anything for a model). */
export interface CatalogMatch {
  id: string;
  title: string;
  description: string;
  features: string[];
  /** The tool's acceptance checks, both kinds; the quote carries those for the chosen artifact type. */
  checks?: AcceptanceCheck[];
}

export interface ToolCatalog {
  match(text: string): CatalogMatch | undefined;
  /** Short examples to offer when a request matches nothing. */
  examples(): string[];
  /** Every tool, when the catalog is closed (the offline recipe coder); used to brief a model. */
  entries?(): CatalogMatch[];
  /**
   * Whether the configured coder can build extra behaviour beyond a tool's listed features (a
   * model-driven coder can; the offline recipe coder builds exactly its recipes). When false,
   * extras are never quoted: nothing is sold that would not be built and verified.
   */
  readonly buildsExtras?: boolean;
}

export type IntakeOutcome =
  | { kind: 'reply'; reply: string; intake: IntakeState }
  | { kind: 'quote'; reply: string; intake: IntakeState; spec: BuildSpec }
  /**
   * A question about a delivered tool (only with `revision`): the topic, never text. The use case
   * answers it with the topic's fixed sentence filled from the delivered version (`answers.ts`).
   */
  | { kind: 'answer'; topic: QuestionTopic; intake: IntakeState };

/** The conversation engine behind `POST …/messages`. Implementations: offline (default), model-backed. */
export interface IntakeEngine {
  /**
   * With `revision`, the run is a delivered tool and `run.spec` its current version: the message is
   * read as a change request to it (a `quote` is the changed spec) or a question about it (an
   * `answer`: a topic; a `reply` only for fixed sentences such as a refusal or a declined change).
   */
  respond(run: BuildRun, text: string, opts?: RespondOptions): Promise<IntakeOutcome>;
  /**
   * Set by engines that call a model: the model-free engine (the offline rules) that answers
   * instead once the session's daily model budget is spent.
   */
  readonly modelFree?: IntakeEngine;
}

export interface RespondOptions {
  revision?: boolean;
}
