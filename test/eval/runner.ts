import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
/**
 * One eval request end to end, as a visitor and an operator would do it: the public API for the
 * chat (scripted answers to the intake's questions), the contact email and the progress events;
 * the operator's approve use case (`bus-build approve`) to start the build; the operator view (the
 * run record and the worker's `result.json` per attempt in the evidence bucket) for the outcome.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { s3Client } from '../../lib/aws/clients.ts';
import { keys } from '../../lib/aws/keys.ts';
import { approveCommand } from '../../lib/cli/commands/approve.ts';
import type { Connection } from '../../lib/cli/target.ts';
import { ArtifactTypeSchema } from '../../lib/domain/build-spec.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { ApiClient } from '../integration/harness.ts';
import { confirmationCode, type PublicRun, pollEvents } from '../integration/pipeline-helpers.ts';
import { type CheckResult, coderFigures, type RequestResult, sumFigures } from './report.ts';

export const EvalRequestSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]{1,40}$/),
    kind: ArtifactTypeSchema,
    request: z.string().min(1).max(4000),
    /** The visitor's replies to clarifying questions, in order. */
    answers: z.array(z.string().min(1).max(4000)).max(4).default([]),
  })
  .strict();
export type EvalRequest = z.infer<typeof EvalRequestSchema>;

export const EvalFileSchema = z
  .object({ description: z.string().optional(), requests: z.array(EvalRequestSchema).min(1) })
  .strict()
  .refine(
    (f) => new Set(f.requests.map((r) => r.id)).size === f.requests.length,
    'request ids must be unique',
  );

export interface EvalContext {
  /** The local stack's API base URL. */
  apiUrl: string;
  /** The operator's connection to the same stack (run store, buckets, Step Functions). */
  conn: Connection;
  /** The stack's data dir: its outbox holds the contact confirmation code. */
  dataDir: string;
  /** Recorded with the approval. */
  actor: string;
  /** How long to wait for a build to end after approval. */
  buildTimeoutMs: number;
  /** Progress lines for the person running the eval. */
  say?: (line: string) => void;
}

const EMAIL = 'eval@example.org';

export async function runRequest(ctx: EvalContext, req: EvalRequest): Promise<RequestResult> {
  const started = Date.now();
  const elapsed = (from = started) => (Date.now() - from) / 1000;
  const result: RequestResult = {
    id: req.id,
    kind: req.kind,
    runId: null,
    outcome: 'error',
    reason: null,
    questions: 0,
    quoted: null,
    attempts: 0,
    steps: null,
    tokens: null,
    checks: null,
    wallSeconds: 0,
    buildSeconds: null,
  };
  try {
    const visitor = new ApiClient(ctx.apiUrl);
    const created = await visitor.post<{ run: PublicRun }>('/api/v1/build-runs', {});
    if (created.status !== 201) throw new Error(`create run: HTTP ${created.status}`);
    const runId = created.body.run.run_id;
    result.runId = runId;

    // The chat: the request, then one scripted answer per clarifying question.
    const answers = [...req.answers];
    let text: string | undefined = req.request;
    let phase = created.body.run.phase;
    let lastReply = '';
    while (text !== undefined) {
      const res = await visitor.post<{ run: PublicRun; reply: { text: string } }>(
        `/api/v1/build-runs/${runId}/messages`,
        { text },
      );
      if (res.status !== 200) throw new Error(`message: HTTP ${res.status} ${res.text.slice(0, 200)}`);
      phase = res.body.run.phase;
      lastReply = res.body.reply.text;
      if (phase === 'quoted') break;
      result.questions++;
      text = answers.shift();
    }
    if (phase !== 'quoted') {
      result.outcome = 'not_quoted';
      result.reason = `not quoted after ${req.answers.length} answer(s); last reply: ${lastReply.slice(0, 300)}`;
      return result;
    }
    // The contact counts once confirmed with the code mailed to it (the local outbox).
    const outbox = join(ctx.dataDir, 'outbox');
    const before = new Set(await readdir(outbox).catch(() => []));
    const contact = await visitor.post(`/api/v1/build-runs/${runId}/contact`, { email: EMAIL });
    if (contact.status !== 200) throw new Error(`contact: HTTP ${contact.status}`);
    const code = await confirmationCode(outbox, before);
    const confirmed = await visitor.post(`/api/v1/build-runs/${runId}/contact/confirm`, { code });
    if (confirmed.status !== 200) throw new Error(`confirm contact: HTTP ${confirmed.status}`);
    const quotedRun = await ctx.conn.store.getRun(runId);
    if (quotedRun?.quote && quotedRun.spec)
      result.quoted = {
        artifactType: quotedRun.spec.artifactType,
        platforms: [...quotedRun.spec.platforms],
        amountCents: quotedRun.quote.amountCents,
        currency: quotedRun.quote.currency,
      };
    const cursor = await visitor.get<{ next_after: number }>(`/api/v1/build-runs/${runId}/events?after=0`);
    ctx.say?.(`${req.id}: quoted after ${result.questions} question(s) as ${runId}; approving`);

    // The operator approves; the visitor waits for the outcome.
    const approvedAt = Date.now();
    await approveCommand(ctx.conn, runId, { actor: ctx.actor, now: () => new Date() });
    const polled = await pollEvents(visitor, runId, {
      after: cursor.body.next_after,
      timeoutMs: ctx.buildTimeoutMs,
    });
    result.buildSeconds = elapsed(approvedAt);
    result.wallSeconds = elapsed();

    const run = await ctx.conn.store.getRun(runId);
    if (!run) throw new Error('the run vanished from the store');
    await addOperatorView(ctx, run, result);
    if (!polled.terminal) {
      result.outcome = 'timeout';
      result.reason = `no outcome ${Math.round(ctx.buildTimeoutMs / 1000)} s after approval (phase ${run.phase})`;
    } else if (polled.terminal.type === 'bus.build.artifact.verified') {
      result.outcome = 'verified';
    } else {
      result.outcome = 'failed';
      result.reason =
        run.failure?.internalReason ??
        run.verification.at(-1)?.internalReason ??
        polled.terminal.message ??
        'failed';
    }
    return result;
  } catch (err) {
    result.outcome = 'error';
    result.reason = (err as Error).message.slice(0, 500);
    return result;
  } finally {
    if (result.wallSeconds === 0) result.wallSeconds = elapsed();
    ctx.say?.(`${req.id}: ${result.outcome} in ${result.wallSeconds.toFixed(1)} s`);
  }
}

/** Attempts, the coder's steps and tokens (from each attempt's result.json) and the checks' results. */
async function addOperatorView(ctx: EvalContext, run: BuildRun, result: RequestResult): Promise<void> {
  result.attempts = run.attempts;
  const per = [];
  for (let attempt = 1; attempt <= run.attempts; attempt++) {
    const recorded = await readJson(ctx.conn.buckets.evidence, keys.workerResult(run.runId, attempt));
    if (recorded !== undefined) per.push(coderFigures(recorded));
  }
  const sums = sumFigures(per);
  result.steps = sums.steps;
  result.tokens = sums.tokens;
  result.checks = acceptanceResults(run);
}

/**
 * The acceptance checks' results of the last verification: the gate's per-check `outcomes`
 * (`{ id, passed, detail? }`, titled from the approved spec's checks), read defensively since the
 * record's shape is newer than this harness; null when the gate recorded none.
 */
export function acceptanceResults(run: Pick<BuildRun, 'verification' | 'spec'>): CheckResult[] | null {
  const last = run.verification.at(-1) as { outcomes?: unknown } | undefined;
  const outcomes = Array.isArray(last?.outcomes) ? (last.outcomes as Record<string, unknown>[]) : [];
  const titles = new Map((run.spec?.checks ?? []).map((c) => [c.id, c.title]));
  const results = outcomes
    .filter((o) => typeof o?.id === 'string' && typeof o.passed === 'boolean')
    .map((o) => ({
      title: titles.get(o.id as string) ?? (o.id as string),
      passed: o.passed as boolean,
      ...(typeof o.detail === 'string' && !o.passed ? { detail: o.detail.slice(0, 300) } : {}),
    }));
  return results.length ? results : null;
}

async function readJson(bucket: string, key: string): Promise<unknown> {
  try {
    const out = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await out.Body?.transformToString('utf8')) ?? '');
  } catch {
    return undefined;
  }
}

/** Runs the requests with at most `concurrency` at a time; results in request order. */
export async function runAll(
  ctx: EvalContext,
  requests: readonly EvalRequest[],
  concurrency: number,
): Promise<RequestResult[]> {
  const results: RequestResult[] = new Array(requests.length);
  let next = 0;
  const lane = async () => {
    while (next < requests.length) {
      const i = next++;
      results[i] = await runRequest(ctx, requests[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, requests.length)) }, lane));
  return results;
}
