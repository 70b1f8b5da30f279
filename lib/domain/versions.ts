import { z } from 'zod';
import { BuildSpecSchema } from './build-spec.ts';
import { DomainError } from './errors.ts';
import { VerifiedArtifactSchema } from './manifest.ts';

/**
 * Versions of one build run. A run is delivered as version 1; after that the conversation goes
 * on: a change request re-quotes the run as a revision (`delivered → quoted`), and its approval
 * builds version N+1 through the same nine phases, from version N's verified commit on the run's
 * one branch. Publishing a version appends it here; every earlier version stays listed,
 * downloadable and previewable at its own immutable keys. Pure: no AWS.
 *
 * Published artifact ids are unique across the versions of a run: version 1 keeps the manifest's
 * ids (`web`, `linux-amd64`…), version N ≥ 2 publishes them as `{id}-v{N}`, so downloads and
 * previews address a version by its artifact id alone.
 */

export const MAX_VERSIONS = 50;

export const RunVersionSchema = z
  .object({
    number: z.number().int().positive(),
    /** The approved scope this version was built to (features, platforms, checks). */
    spec: BuildSpecSchema,
    quoteVersion: z.number().int().positive(),
    amountCents: z.number().int().nonnegative(),
    currency: z.string(),
    /** The verified commit on the run's branch. Internal only. */
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .optional(),
    /** The attempt whose candidate was verified and published. */
    attempt: z.number().int().positive(),
    artifacts: z.array(VerifiedArtifactSchema),
    verifiedAt: z.string(),
    /** How this version was paid, as it stood when the next change was requested. Internal only. */
    payment: z
      .object({
        status: z.string(),
        method: z.string().optional(),
        paymentIntentId: z.string().optional(),
        quoteVersion: z.number().int().optional(),
      })
      .optional(),
  })
  .strict();
export type RunVersion = z.infer<typeof RunVersionSchema>;

/** A change in progress: quoted, authorized or building. */
export const RevisionSchema = z
  .object({
    /** The version this change will become. */
    number: z.number().int().min(2),
    /** The delivered version it starts from. */
    baseVersion: z.number().int().positive(),
    /** `run.retries` when the change was requested: names this version's own retries. */
    retriesAtStart: z.number().int().nonnegative().default(0),
    /**
     * How many times this version's change was asked for: 1 at first, +1 each time the visitor
     * asks again after it failed (absent = 1). Names the build execution, so a change asked again
     * never reuses the failed build's execution name.
     */
    opened: z.number().int().positive().optional(),
    /** The first attempt of this version (set when its build starts): it starts from the base commit. */
    firstAttempt: z.number().int().positive().optional(),
    requestedAt: z.string(),
  })
  .strict();
export type Revision = z.infer<typeof RevisionSchema>;

interface Versioned {
  versions?: RunVersion[];
  revision?: Revision;
}

/** The delivered version the visitor has now (the newest), if any. */
export function currentVersion(run: Versioned): RunVersion | undefined {
  const list = run.versions ?? [];
  return list.length > 0 ? list[list.length - 1] : undefined;
}

/** The number of the version being quoted or built: the revision's, else the next after the current. */
export function workingVersionNumber(run: Versioned): number {
  return run.revision?.number ?? (currentVersion(run)?.number ?? 0) + 1;
}

export function findVersion(run: Versioned, n: number): RunVersion | undefined {
  return (run.versions ?? []).find((v) => v.number === n);
}

/** The published id of a manifest artifact in version `n` (see the file comment). */
export function publishedArtifactId(manifestId: string, n: number): string {
  return n <= 1 ? manifestId : `${manifestId}-v${n}`;
}

export class NoDeliveredVersionError extends DomainError {
  constructor() {
    super('not_revisable', 'This build run has no delivered version to change yet.', 409);
  }
}

export class TooManyVersionsError extends DomainError {
  constructor() {
    super(
      'too_many_versions',
      `A build run keeps at most ${MAX_VERSIONS} versions; start a new tool instead.`,
      409,
    );
  }
}

/**
 * The revision a change request opens on a run with a delivered version. A change already being
 * quoted is kept; a change that failed is opened afresh under the same number (it was never
 * delivered), so its build starts from the base version again, counted in `opened` (a new
 * execution name).
 */
export function openRevision(run: Versioned & { retries?: number; phase: string }, now: string): Revision {
  const current = currentVersion(run);
  if (!current) throw new NoDeliveredVersionError();
  if (run.revision && run.phase === 'quoted') return run.revision;
  if (current.number >= MAX_VERSIONS) throw new TooManyVersionsError();
  const again = run.revision ? (run.revision.opened ?? 1) + 1 : 1;
  return {
    number: run.revision?.number ?? current.number + 1,
    baseVersion: current.number,
    retriesAtStart: run.retries ?? 0,
    ...(again > 1 && { opened: again }),
    requestedAt: now,
  };
}

/** The versions with the current one's payment recorded as it stands (before a change resets it). */
export function withPaymentSnapshot(
  run: Versioned & {
    payment: { status: string; method?: string; paymentIntentId?: string; quoteVersion?: number };
  },
): RunVersion[] {
  const list = [...(run.versions ?? [])];
  const last = list[list.length - 1];
  if (!last || last.payment) return list;
  const p = run.payment;
  list[list.length - 1] = {
    ...last,
    payment: {
      status: p.status,
      ...(p.method && { method: p.method }),
      ...(p.paymentIntentId && { paymentIntentId: p.paymentIntentId }),
      ...(p.quoteVersion !== undefined && { quoteVersion: p.quoteVersion }),
    },
  };
  return list;
}

/** The version record a publish appends. */
export function publishedVersion(input: {
  number: number;
  spec: RunVersion['spec'];
  quote: { version: number; amountCents: number; currency: string };
  commit?: string | undefined;
  attempt: number;
  artifacts: RunVersion['artifacts'];
  at: string;
}): RunVersion {
  return {
    number: input.number,
    spec: input.spec,
    quoteVersion: input.quote.version,
    amountCents: input.quote.amountCents,
    currency: input.quote.currency,
    ...(input.commit && { commit: input.commit }),
    attempt: input.attempt,
    artifacts: input.artifacts,
    verifiedAt: input.at,
  };
}
