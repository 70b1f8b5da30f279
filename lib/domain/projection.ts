import { type AcceptanceCheck, checksFor } from './acceptance.ts';
import type { BuildEvent } from './events.ts';
import { FEATURE_DONE_STAGE, PROGRESS_SENTENCES } from './events.ts';
import type { VerifiedArtifact } from './manifest.ts';
import { PAYMENT_PROMISE, type PaymentMethod } from './payment.ts';
import { formatAmount } from './pricing.ts';
import type {
  PublicArtifact,
  PublicEvent,
  PublicMessage,
  PublicQuoteCheck,
  PublicReceipt,
  PublicRun,
} from './public-schemas.ts';
import type { BuildRun, Message } from './run.ts';
import {
  FAILURE_SENTENCES,
  PHASE_SENTENCES,
  REVISION_PHASE_SENTENCES,
  revisionFailedSentence,
} from './status.ts';
import { currentVersion } from './versions.ts';

/**
 * The public projection: the only way anything about a run leaves the backend. Every function
 * here builds its output from an allow-list of fields; internal fields (paths, branch, repo,
 * worker, task ref, evidence keys, email, internal reasons) are never read into the output.
 */

/**
 * The receipt of a delivered artifact: the titles are the approved spec's own words, looked up by
 * check id (a recorded id the spec does not have is left out: nothing the worker or a runner said
 * reaches the visitor). Undefined for an artifact from before checks.
 */
export function toPublicReceipt(
  a: VerifiedArtifact,
  specChecks: readonly AcceptanceCheck[],
): PublicReceipt | undefined {
  if (!a.receipt) return undefined;
  const checks: PublicReceipt['checks'] = [];
  for (const c of a.receipt.checks) {
    const agreed = specChecks.find((s) => s.id === c.id && s.kind === c.kind);
    if (agreed)
      checks.push({ title: agreed.title, passed: c.passed, ran_on: c.kind === 'web' ? 'web' : c.ranOn });
  }
  return { verified_at: a.verified_at, checks, screenshot: Boolean(a.receipt.screenshot_key) };
}

/**
 * With `runId`, downloadable artifacts carry their API download route (never a storage key); with
 * the approved spec's checks, an artifact delivered with a receipt carries it.
 */
export function toPublicArtifact(
  a: VerifiedArtifact,
  runId?: string,
  specChecks: readonly AcceptanceCheck[] = [],
): PublicArtifact {
  const receipt = toPublicReceipt(a, specChecks);
  const link =
    runId && a.kind !== 'web'
      ? { download_url: `/api/v1/build-runs/${runId}/artifacts/${a.artifact_id}/download` }
      : {};
  return {
    ...link,
    artifact_id: a.artifact_id,
    kind: a.kind,
    name: a.name,
    platform: a.platform ?? null,
    size_bytes: a.size_bytes,
    sha256: a.sha256,
    preview: a.kind === 'web',
    ...(receipt && { receipt }),
  };
}

/**
 * The artifacts a visitor may have now: the current version's, whatever a later change is doing
 * (a run from before versions: the ready or delivered run's own).
 */
export function deliveredArtifacts(run: BuildRun, version?: number): VerifiedArtifact[] {
  const versions = run.versions ?? [];
  if (versions.length > 0) {
    const v =
      version === undefined ? versions[versions.length - 1] : versions.find((x) => x.number === version);
    return v ? v.artifacts : [];
  }
  if (version !== undefined && version !== 1) return [];
  return run.phase === 'artifact_ready' || run.phase === 'delivered' ? run.artifacts : [];
}

/** The approved checks of the version whose artifacts {@link deliveredArtifacts} returns (the receipt's titles). */
export function deliveredChecks(run: BuildRun, version?: number): AcceptanceCheck[] | undefined {
  const versions = run.versions ?? [];
  if (versions.length === 0) return run.spec?.checks;
  const v =
    version === undefined ? versions[versions.length - 1] : versions.find((x) => x.number === version);
  return v?.spec.checks;
}

export function toPublicMessage(m: Message): PublicMessage {
  return { message_id: m.messageId, role: m.role, text: m.text, at: m.at };
}

export function toPublicRun(
  run: BuildRun,
  messages?: Message[],
  opts: { paymentMethods?: PaymentMethod[] } = {},
): PublicRun {
  const current = currentVersion(run);
  const status =
    run.phase === 'failed' && current
      ? revisionFailedSentence(current.number)
      : run.phase === 'failed' && run.failure
        ? FAILURE_SENTENCES[run.failure.code]
        : run.revision && current && REVISION_PHASE_SENTENCES[run.phase]
          ? (REVISION_PHASE_SENTENCES[run.phase] as string)
          : PHASE_SENTENCES[run.phase];
  const out: PublicRun = {
    run_id: run.runId,
    phase: run.phase,
    status_message: status,
    artifact_type: run.artifactType ?? null,
    scope: run.spec
      ? {
          title: run.spec.title,
          summary: run.spec.summary,
          features: [...run.spec.features],
          out_of_scope: [...run.spec.outOfScope],
          platforms: run.spec.artifactType === 'web' ? [] : [...run.spec.platforms],
        }
      : null,
    quote: run.quote
      ? {
          version: run.quote.version,
          amount_cents: run.quote.amountCents,
          currency: run.quote.currency,
          amount_display: formatAmount(run.quote.amountCents, run.quote.currency),
          line_items: run.quote.lineItems.map((i) => ({ label: i.label, amount_cents: i.amountCents })),
          delivery: run.quote.delivery,
          payment_terms: PAYMENT_PROMISE,
          checks: quoteChecks(run),
        }
      : null,
    payment_status: run.payment.status,
    contact_email_set: Boolean(run.owner.email),
    contact_email_confirmed: Boolean(run.owner.email) && run.owner.emailVerified,
    attempt: run.attempts,
    version: current?.number ?? null,
    versions: (run.versions ?? []).map((v) => ({
      version: v.number,
      current: v.number === current?.number,
      verified_at: v.verifiedAt,
      artifact_count: v.artifacts.length,
    })),
    revision: run.revision ? { version: run.revision.number, base_version: run.revision.baseVersion } : null,
    artifacts: deliveredArtifacts(run).map((a) => toPublicArtifact(a, run.runId, deliveredChecks(run))),
    created_at: run.createdAt,
    updated_at: run.updatedAt,
  };
  if (messages) out.messages = messages.map(toPublicMessage);
  if (opts.paymentMethods) out.payment_methods = [...opts.paymentMethods];
  return out;
}

/** The quote's acceptance checks that apply to its artifact type: title and kind only. */
export function quoteChecks(run: Pick<BuildRun, 'spec'>): PublicQuoteCheck[] {
  if (!run.spec?.checks) return [];
  return checksFor(run.spec.checks, run.spec.artifactType).map((c) => ({ title: c.title, kind: c.kind }));
}

/**
 * The projection of one run's events. Coder progress that names approved features becomes
 * "Done: <feature>." with the feature's own words from the run's approved spec (looked up by
 * number; an unknown number is never quoted).
 */
export function publicEventsOf(run: Pick<BuildRun, 'spec'>): (e: BuildEvent) => PublicEvent | null {
  const features = run.spec?.features ?? [];
  return (e) => projectEvent(e, features);
}

/** Maps an internal event to a fixed customer-safe sentence, or null when it is not public. */
export function toPublicEvent(e: BuildEvent): PublicEvent | null {
  return projectEvent(e, []);
}

/** "Done: A." / "Done: A; B." from approved feature titles (their own words and capitals). */
export function featuresDoneSentence(
  numbers: readonly number[],
  approved: readonly string[],
): string | undefined {
  const titles = [...new Set(numbers)]
    .map((n) => approved[n - 1])
    .filter((t): t is string => typeof t === 'string')
    .map((t) => t.trim().replace(/[\s.;:!?,]+$/u, ''))
    .filter(Boolean);
  return titles.length > 0 ? `Done: ${titles.join('; ')}.` : undefined;
}

function projectEvent(e: BuildEvent, approved: readonly string[]): PublicEvent | null {
  const pub = (message: string, phase?: string): PublicEvent => ({
    seq: e.seq,
    type: e.type,
    at: e.at,
    message,
    ...(phase ? { phase } : {}),
  });
  switch (e.type) {
    case 'bus.build.run.requested':
      return pub('Your build run was created.', 'drafting');
    case 'bus.build.message.added':
      return e.data.role === 'visitor' ? pub('Your message was received.') : pub('The assistant replied.');
    case 'bus.build.quote.ready':
      return pub(
        `The scope and price are ready: ${formatAmount(e.data.amountCents, e.data.currency)}.`,
        'quoted',
      );
    case 'bus.build.run.authorized':
      return pub('The build was approved and will start shortly.', 'authorized');
    case 'bus.build.repo.ready':
      return pub(PROGRESS_SENTENCES.workspace_ready, 'repo_ready');
    case 'bus.build.worker.assigned':
      return pub(
        e.data.attempt > 1
          ? 'The build worker is repairing the tool.'
          : 'A build worker has started on your tool.',
        'worker_running',
      );
    case 'bus.build.progress.updated': {
      const done =
        e.data.stage === FEATURE_DONE_STAGE && e.data.features
          ? featuresDoneSentence(e.data.features, approved)
          : undefined;
      return pub(done ?? PROGRESS_SENTENCES[e.data.stage]);
    }
    // The progress events that follow carry "being verified" / "preview is ready"; these two name
    // the milestones themselves, so a transcript never shows the same sentence twice in a row.
    case 'bus.build.artifact.submitted':
      return pub('The build worker handed in the result for verification.', 'artifact_pending');
    case 'bus.build.artifact.verified':
      return pub('The artifact passed verification.', 'artifact_ready');
    case 'bus.build.run.failed':
      return pub(FAILURE_SENTENCES[e.data.code], 'failed');
    case 'bus.build.run.delivered':
      return pub('Your verified artifact has been delivered.', 'delivered');
    case 'bus.build.revision.requested':
      return pub(`Your change request will become version ${e.data.version}.`);
    case 'bus.build.version.published':
      return pub(`Version ${e.data.version} is ready.`);
    case 'bus.build.revision.failed':
      return pub(
        `Version ${e.data.version} could not be finished. Version ${e.data.baseVersion} is still delivered and unchanged.`,
      );
    default:
      return null;
  }
}

export type { PublicArtifact, PublicEvent, PublicMessage, PublicReceipt, PublicRun };
