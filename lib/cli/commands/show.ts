import { wasAuthorized } from '../../app/approve-run.ts';
import type { ArtifactStore } from '../../app/orchestrator/ports.ts';
import { executionName } from '../../app/start-execution.ts';
import { S3ArtifactStore } from '../../aws/artifact-store.ts';
import { s3Client } from '../../aws/clients.ts';
import { keys } from '../../aws/keys.ts';
import { type CoderReport, CoderReportSchema } from '../../domain/coder-report.ts';
import type { BuildEvent } from '../../domain/events.ts';
import type { RunStore } from '../../domain/ports.ts';
import type { BuildRun } from '../../domain/run.ts';
import { currentVersion } from '../../domain/versions.ts';
import { type CommandResult, requireRun, s3Uri } from '../output.ts';
import { formatTime, renderFields, renderTable, section } from '../table.ts';
import type { Buckets, Connection } from '../target.ts';
import { verificationTable } from './artifacts.ts';

const EVENT_PAGE = 500;

/** The whole event log of a run, in sequence order. */
export async function allEvents(store: RunStore, runId: string): Promise<BuildEvent[]> {
  const events: BuildEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.listEvents(runId, after, EVENT_PAGE);
    events.push(...page.events);
    if (page.events.length < EVENT_PAGE) return events;
    after = page.lastSeq;
  }
}

/** Evidence objects with their full location in the evidence bucket. */
export function evidenceLocations(run: BuildRun, buckets: Buckets) {
  return run.evidence.map((e) => ({ ...e, location: s3Uri(buckets.evidence, e.key) }));
}

/** One attempt's coder report from its `result.json` in the evidence bucket. */
export interface AttemptCoder {
  attempt: number;
  report?: CoderReport;
  /** Why there is no report: none recorded (offline coder, crash) or unreadable. */
  missing?: string;
}

/** The coder report of every attempt (read from the evidence bucket; a failure is shown, not thrown). */
export async function coderReports(
  evidence: Pick<ArtifactStore, 'getJson'>,
  run: Pick<BuildRun, 'runId' | 'attempts'>,
): Promise<AttemptCoder[]> {
  const out: AttemptCoder[] = [];
  for (let attempt = 1; attempt <= run.attempts; attempt++) {
    try {
      const json = (await evidence.getJson('evidence', keys.workerResult(run.runId, attempt))) as
        | { coder?: unknown }
        | undefined;
      if (!json) {
        out.push({ attempt, missing: 'no result.json' });
        continue;
      }
      if (json.coder === undefined) {
        out.push({ attempt, missing: 'no coder report (offline coder)' });
        continue;
      }
      const parsed = CoderReportSchema.safeParse(json.coder);
      out.push(
        parsed.success ? { attempt, report: parsed.data } : { attempt, missing: 'coder report unreadable' },
      );
    } catch (err) {
      out.push({
        attempt,
        missing: `result.json unreadable (${(err as { name?: string }).name ?? 'Error'})`,
      });
    }
  }
  return out;
}

function tokensText(r: CoderReport): string {
  const t = r.tokens;
  if (!t) return '';
  return `in ${t.input} / cached ${t.cachedInput} / cache write ${t.cacheWrite} / out ${t.output} = ${t.budget}${
    r.limits.maxTokens ? ` of ${r.limits.maxTokens}` : ''
  }`;
}

function leftText(r: CoderReport): string {
  if (!r.left) return `${Math.max(0, r.limits.maxSeconds - r.seconds)} s`;
  return `${r.left.steps} steps, ${r.left.tokens} tokens, ${r.left.seconds} s`;
}

function money(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

/** The evidence bucket through the S3 adapter (the target's endpoint and credentials). */
function evidenceStore(conn: Connection): Pick<ArtifactStore, 'getJson'> {
  return new S3ArtifactStore(s3Client(), conn.buckets);
}

/** Every delivered version with its commit on the build branch and how it was verified and paid. */
export function versionsTable(run: BuildRun): string {
  const current = currentVersion(run)?.number;
  return renderTable(run.versions ?? [], [
    { header: 'VERSION', value: (v) => `${v.number}${v.number === current ? ' (current)' : ''}` },
    { header: 'COMMIT', value: (v) => v.commit ?? '' },
    { header: 'ATTEMPT', value: (v) => v.attempt, align: 'right' },
    { header: 'VERIFIED', value: (v) => formatTime(v.verifiedAt) },
    { header: 'PRICE', value: (v) => money(v.amountCents, v.currency) },
    {
      header: 'PAYMENT',
      value: (v) => v.payment?.status ?? (v.number === current ? run.payment.status : ''),
    },
    { header: 'ARTIFACTS', value: (v) => v.artifacts.map((a) => a.artifact_id).join(', '), maxWidth: 60 },
  ]);
}

/** `show`: everything the backend knows about a run, including its internal references. */
export async function showCommand(conn: Connection, runId: string): Promise<CommandResult> {
  const run = await requireRun(conn.store, runId);
  const events = await allEvents(conn.store, runId);
  const evidence = evidenceLocations(run, conn.buckets);
  const execution = wasAuthorized(run) ? executionName(run) : undefined;
  const coders = await coderReports(evidenceStore(conn), run);

  const owner = [
    run.owner.sessionId,
    run.owner.email ? `${run.owner.email}${run.owner.emailVerified ? ' (verified)' : ' (unverified)'}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const fields = renderFields([
    ['run id', run.runId],
    ['phase', run.phase],
    ['artifact type', run.spec?.artifactType ?? run.artifactType],
    ['title', run.spec?.title],
    ['recipe', run.spec?.recipe],
    ['platforms', run.spec?.platforms.join(', ')],
    ['owner', owner],
    [
      'payment',
      `${run.payment.status}${run.payment.method ? ` (${run.payment.method})` : ''}${
        run.payment.checkoutSessionId ? ` checkout ${run.payment.checkoutSessionId}` : ''
      }`,
    ],
    [
      'quote',
      run.quote ? `${money(run.quote.amountCents, run.quote.currency)} (v${run.quote.version})` : undefined,
    ],
    ['task ref', run.taskRef],
    ['repo', run.repoId],
    ['branch', run.branch],
    ['worker', run.workerId],
    ['attempts', run.attempts],
    ['retries', run.retries],
    ['execution', execution],
    ['execution arn', run.executionArn],
    [
      'failure',
      run.failure
        ? `${run.failure.code} at ${formatTime(run.failure.at)}: ${run.failure.internalReason}`
        : undefined,
    ],
    ['created', formatTime(run.createdAt)],
    ['updated', formatTime(run.updatedAt)],
    ['ended', formatTime(run.endedAt)],
    ['current version', currentVersion(run)?.number],
    [
      'change',
      run.revision
        ? `version ${run.revision.number} from version ${run.revision.baseVersion}${
            run.revision.firstAttempt ? ` (first attempt ${run.revision.firstAttempt})` : ''
          }`
        : undefined,
    ],
    ['record version', run.version],
  ]);

  const text = [
    section(`Build run ${run.runId}`, fields),
    section('Versions', versionsTable(run)),
    section('Verification', verificationTable(run)),
    section(
      'Coder',
      renderTable(coders, [
        { header: 'ATTEMPT', value: (c) => c.attempt, align: 'right' },
        { header: 'CODER', value: (c) => c.report?.coder ?? c.missing ?? '' },
        { header: 'STEPS', value: (c) => c.report?.steps ?? '', align: 'right' },
        { header: 'TOOLS', value: (c) => c.report?.toolCalls ?? '', align: 'right' },
        { header: 'TOKENS (BUDGET)', value: (c) => (c.report ? tokensText(c.report) : '') },
        { header: 'LEFT', value: (c) => (c.report ? leftText(c.report) : '') },
        { header: 'PROGRESS', value: (c) => c.report?.progressReports ?? '', align: 'right' },
        { header: 'STOPPED', value: (c) => c.report?.stopped ?? '', maxWidth: 60 },
      ]),
    ),
    section(
      'Evidence',
      renderTable(evidence, [
        { header: 'KIND', value: (e) => e.kind },
        { header: 'AT', value: (e) => formatTime(e.at) },
        { header: 'LOCATION', value: (e) => e.location },
      ]),
    ),
    section(
      'Artifacts',
      renderTable(run.artifacts, [
        { header: 'ID', value: (a) => a.artifact_id },
        { header: 'KIND', value: (a) => a.kind },
        { header: 'NAME', value: (a) => a.name },
        { header: 'LOCATION', value: (a) => s3Uri(conn.buckets.artifacts, a.published_key) },
      ]),
    ),
    section(
      'Events',
      renderTable(events, [
        { header: 'SEQ', value: (e) => e.seq, align: 'right' },
        { header: 'AT', value: (e) => formatTime(e.at) },
        { header: 'TYPE', value: (e) => e.type },
        {
          header: 'DATA',
          value: (e) => (Object.keys(e.data).length ? JSON.stringify(e.data) : ''),
          maxWidth: 120,
        },
      ]),
    ),
  ].join('\n\n');

  return {
    data: { run, execution: execution ?? null, evidence, coders, events },
    text,
  };
}
