import fc from 'fast-check';
import { type AcceptanceCheck, AcceptanceCheckSchema } from '../../lib/domain/acceptance.ts';
import { ARTIFACT_TYPES, DEFAULT_PLATFORMS } from '../../lib/domain/build-spec.ts';
import { BUILD_EVENT_TYPES, type BuildEvent, PROGRESS_SENTENCES } from '../../lib/domain/events.ts';
import type { VerifiedArtifact } from '../../lib/domain/manifest.ts';
import { PHASES } from '../../lib/domain/phases.ts';
import { type BuildRun, type Message, PaymentStatusSchema } from '../../lib/domain/run.ts';
import { FAILURE_SENTENCES } from '../../lib/domain/status.ts';
import type { RunVersion } from '../../lib/domain/versions.ts';

/**
 * Internal values are drawn from recognisable "canary" shapes so the property test can search the
 * public JSON for them: any canary (or its distinctive core) appearing publicly is a leak.
 */
const canaryCore = fc.stringMatching(/^[a-z0-9]{12}$/);
export const internalPath = canaryCore.map((c) => `/work/worktrees/${c}/dist/bin/tool-${c}`);
export const branchValue = canaryCore.map((c) => `build/20261124/${c}`);
export const repoIdValue = canaryCore.map((c) => `repo-${c}`);
export const workerIdValue = canaryCore.map((c) => `worker-${c}`);
export const taskRefValue = canaryCore.map((c) => `task_${c}`);
export const emailValue = canaryCore.map((c) => `secret-${c}@example.org`);
export const secretValue = canaryCore.map((c) => `sk_live_${c}`);
export const evidenceKey = canaryCore.map((c) => `evidence/run/${c}/worker.log`);
export const reasonValue = canaryCore.map((c) => `panic: /home/builder/${c}/main.go:42 nil pointer`);

/**
 * Acceptance checks whose internals (arguments, input, steps, labels, expected values, patterns)
 * are canaries: only the title and the kind may ever reach the visitor.
 */
const checkTitle = fc.constantFrom(
  '10 km is shown as 6.21 miles',
  '€100 with a 15 % tip split between 3 people is €38.33 each',
  'Invalid JSON is refused',
  'In the web app, adding an item lists it',
);
export const cliCheckArb: fc.Arbitrary<AcceptanceCheck> = fc.record({
  kind: fc.constant('cli' as const),
  id: canaryCore.map((c) => `cli-${c}`),
  title: checkTitle,
  args: fc.array(
    canaryCore.map((c) => `arg-${c}`),
    { maxLength: 3 },
  ),
  stdin: fc.option(
    canaryCore.map((c) => `stdin-${c}`),
    { nil: undefined },
  ),
  exitCode: fc.constantFrom(0, 1),
  expect: fc.array(
    fc.oneof(
      canaryCore.map((c) => ({
        op: 'contains' as const,
        stream: 'stdout' as const,
        value: `out-${c}`,
        ignoreCase: false,
      })),
      canaryCore.map((c) => ({ op: 'matches' as const, stream: 'stderr' as const, pattern: `^pat-${c}$` })),
      fc.record({
        op: fc.constant('number' as const),
        stream: fc.constant('stdout' as const),
        value: fc.double({ min: 1000.5, max: 1e6, noNaN: true }),
        tolerance: fc.constant(0.005),
        near: canaryCore.map((c) => `near-${c}`),
      }),
    ),
    { minLength: 1, maxLength: 3 },
  ),
  timeoutMs: fc.constant(5_000),
});
export const webCheckArb: fc.Arbitrary<AcceptanceCheck> = fc.record({
  kind: fc.constant('web' as const),
  id: canaryCore.map((c) => `web-${c}`),
  title: checkTitle,
  steps: fc.array(
    fc.oneof(
      fc.tuple(canaryCore, canaryCore).map(([l, v]) => ({
        action: 'fill' as const,
        label: `label-${l}`,
        value: `value-${v}`,
      })),
      canaryCore.map((c) => ({ action: 'click' as const, role: 'button' as const, name: `button-${c}` })),
      fc.tuple(canaryCore, canaryCore).map(([l, o]) => ({
        action: 'select' as const,
        label: `select-${l}`,
        option: `option-${o}`,
      })),
    ),
    { maxLength: 4 },
  ),
  expect: fc.array(
    canaryCore.map((c) => ({ type: 'text' as const, text: `shown-${c}`, visible: true, ignoreCase: false })),
    { minLength: 1, maxLength: 2 },
  ),
});
export const checkArb: fc.Arbitrary<AcceptanceCheck> = fc.oneof(cliCheckArb, webCheckArb);
/** The checks of one spec: 0–8, ids unique. */
export const checksArb = fc.uniqueArray(checkArb, { maxLength: 8, selector: (c) => c.id });

/** Every internal string of a check (everything but its title and kind). */
export function checkInternals(c: AcceptanceCheck): string[] {
  const out: string[] = [c.id];
  if (c.kind === 'cli') {
    out.push(...c.args, ...(c.stdin ? [c.stdin] : []));
    for (const e of c.expect) {
      if (e.op === 'matches') out.push(e.pattern);
      else if (e.op === 'number') out.push(...(e.near ? [e.near] : []));
      else out.push(e.value);
    }
  } else {
    for (const s of c.steps) {
      if (s.action === 'fill') out.push(s.label, s.value);
      if (s.action === 'select') out.push(s.label, s.option);
      if (s.action === 'click') out.push(s.name);
    }
    for (const e of c.expect) if (e.type === 'text') out.push(e.text);
  }
  return out;
}

const runIdArb = fc.stringMatching(/^[a-z2-7]{26}$/).map((s) => `run_${s}`);
const sessionIdArb = fc.stringMatching(/^[a-z2-7]{26}$/).map((s) => `ses_${s}`);
const iso = fc
  .date({ min: new Date('2026-01-01'), max: new Date('2027-01-01'), noInvalidDate: true })
  .map((d) => d.toISOString());
const sha = fc.stringMatching(/^[a-f0-9]{64}$/);

/** Approved checks of a spec: their titles are the spec's own, public words. */
export const SPEC_CHECKS: AcceptanceCheck[] = [
  {
    kind: 'cli',
    id: 'km-to-mi',
    title: '10 km is shown as 6.21 miles',
    args: ['10', 'km', 'mi'],
    expect: [{ op: 'number', value: 6.21, tolerance: 0.01 }],
  },
  {
    kind: 'web',
    id: 'tip-split',
    title: 'Split between 3 people shows €38.33 each',
    steps: [{ action: 'fill', label: 'People', value: '3' }],
    expect: [{ type: 'number', value: 38.33, tolerance: 0.005 }],
  },
].map((c) => AcceptanceCheckSchema.parse(c));
/** Check ids a receipt may carry: the spec's, plus one the spec does not have (never shown). */
const receiptCheckId = fc.constantFrom('km-to-mi', 'tip-split', 'not-in-spec');
const checkOutcomeArb = fc.record({
  id: receiptCheckId,
  kind: fc.constantFrom('cli' as const, 'web' as const),
  passed: fc.boolean(),
  ranOn: fc.constantFrom('web', ...DEFAULT_PLATFORMS),
  durationMs: fc.nat({ max: 10_000 }),
  detail: fc.option(reasonValue, { nil: undefined }),
});

export const verifiedArtifactArb: fc.Arbitrary<VerifiedArtifact> = fc.record({
  artifact_id: fc.constantFrom('web', 'bin-linux-amd64', 'bin-darwin-arm64'),
  kind: fc.constantFrom('web' as const, 'binary' as const),
  name: fc.constantFrom('Tip Calculator', 'tip-calculator-linux-amd64'),
  path: internalPath,
  sha256: sha,
  size_bytes: fc.nat(),
  platform: fc.option(fc.constantFrom(...DEFAULT_PLATFORMS), { nil: undefined }),
  entrypoint: fc.option(fc.constantFrom('index.html', 'tool'), { nil: undefined }),
  source_included: fc.constant(false),
  published_key: evidenceKey,
  content_type: fc.constant('application/octet-stream'),
  verified_at: iso,
  receipt: fc.option(
    fc.record({
      checks: fc.array(
        fc.record({
          id: receiptCheckId,
          kind: fc.constantFrom('cli' as const, 'web' as const),
          passed: fc.boolean(),
          ranOn: fc.constantFrom('web', ...DEFAULT_PLATFORMS),
        }),
        { maxLength: 4 },
      ),
      screenshot_key: fc.option(evidenceKey, { nil: undefined }),
    }),
    { nil: undefined },
  ),
});

const specArb = fc.record({
  title: fc.constantFrom('Tip Calculator', 'Unit Converter'),
  summary: fc.constantFrom('Splits the bill.', 'Converts units.'),
  requestText: fc.constantFrom('I need a tip calculator'),
  artifactType: fc.constantFrom(...ARTIFACT_TYPES),
  platforms: fc.subarray(DEFAULT_PLATFORMS),
  // The recipe is an internal choice of the worker's coder: a canary.
  recipe: fc.option(
    canaryCore.map((c) => `rcp-${c}`),
    { nil: undefined },
  ),
  features: fc.array(fc.constantFrom('Tip percentage', 'Split'), { maxLength: 3 }),
  outOfScope: fc.array(fc.constantFrom('Accounts'), { maxLength: 1 }),
  complexity: fc.constantFrom('small' as const, 'medium' as const),
  // The receipt's checks (SPEC_CHECKS), or checks whose internals are canaries.
  checks: fc.option(fc.oneof(fc.constant(SPEC_CHECKS), checksArb), { nil: undefined }),
});

/** A delivered version: its commit and payment ids are internal canaries. */
const versionArb = (n: number): fc.Arbitrary<RunVersion> =>
  fc.record({
    number: fc.constant(n),
    spec: specArb,
    quoteVersion: fc.integer({ min: 1, max: 5 }),
    amountCents: fc.nat({ max: 100_000 }),
    currency: fc.constant('eur'),
    commit: fc.stringMatching(/^[0-9a-f]{40}$/),
    attempt: fc.integer({ min: 1, max: 9 }),
    artifacts: fc.array(verifiedArtifactArb, { maxLength: 3 }),
    verifiedAt: iso,
    payment: fc.option(
      fc.record({ status: fc.constant('captured'), paymentIntentId: secretValue.map((v) => `pi_${v}`) }),
      { nil: undefined },
    ),
  });

export const runArb: fc.Arbitrary<BuildRun> = fc.record({
  runId: runIdArb,
  owner: fc.record({
    sessionId: sessionIdArb,
    email: fc.option(emailValue, { nil: undefined }),
    emailVerified: fc.boolean(),
  }),
  artifactType: fc.option(fc.constantFrom(...ARTIFACT_TYPES), { nil: undefined }),
  phase: fc.constantFrom(...PHASES),
  taskRef: taskRefValue,
  workerId: fc.option(workerIdValue, { nil: undefined }),
  repoId: fc.option(repoIdValue, { nil: undefined }),
  branch: fc.option(branchValue, { nil: undefined }),
  attempts: fc.nat({ max: 5 }),
  manifest: fc.option(
    fc.record({
      schema_version: fc.constant(1 as const),
      artifacts: fc.array(
        verifiedArtifactArb.map(({ published_key, content_type, verified_at, receipt, ...m }) => m),
        {
          maxLength: 3,
        },
      ),
    }),
    { nil: undefined },
  ),
  artifacts: fc.array(verifiedArtifactArb, { maxLength: 4 }),
  payment: fc.record({
    status: fc.constantFrom(...PaymentStatusSchema.options),
    method: fc.option(fc.constantFrom('manual' as const, 'stripe' as const, 'free' as const), {
      nil: undefined,
    }),
    checkoutSessionId: fc.option(secretValue, { nil: undefined }),
    paymentIntentId: fc.option(
      secretValue.map((v) => `pi_${v}`),
      { nil: undefined },
    ),
    note: fc.option(reasonValue, { nil: undefined }),
  }),
  spec: fc.option(specArb, { nil: undefined }),
  quote: fc.option(
    fc.record({
      version: fc.integer({ min: 1, max: 5 }),
      amountCents: fc.nat({ max: 100_000 }),
      currency: fc.constantFrom('eur', 'usd'),
      artifactType: fc.constantFrom(...ARTIFACT_TYPES),
      platforms: fc.subarray(DEFAULT_PLATFORMS),
      lineItems: fc.array(fc.record({ label: fc.constantFrom('Web app', 'Binary'), amountCents: fc.nat() }), {
        maxLength: 3,
      }),
      delivery: fc.constantFrom('within the hour'),
      createdAt: iso,
    }),
    { nil: undefined },
  ),
  intake: fc.record({ questionsAsked: fc.nat({ max: 2 }), requestText: fc.constant('a tip calculator') }),
  failure: fc.option(
    fc.record({
      code: fc.constantFrom(...(Object.keys(FAILURE_SENTENCES) as (keyof typeof FAILURE_SENTENCES)[])),
      internalReason: reasonValue,
      at: iso,
    }),
    { nil: undefined },
  ),
  verification: fc.array(
    fc.record({
      attempt: fc.integer({ min: 1, max: 3 }),
      passed: fc.boolean(),
      checks: fc.array(
        fc.record({ name: fc.constant('sha256'), passed: fc.boolean(), detail: internalPath }),
      ),
      internalReason: reasonValue,
      outcomes: fc.option(fc.array(checkOutcomeArb, { maxLength: 3 }), { nil: undefined }),
      screenshot: fc.option(fc.record({ artifactId: fc.constant('web'), key: evidenceKey }), {
        nil: undefined,
      }),
      at: iso,
    }),
    { maxLength: 2 },
  ),
  evidence: fc.array(fc.record({ kind: fc.constant('worker-log'), key: evidenceKey, at: iso }), {
    maxLength: 2,
  }),
  executionArn: fc.option(secretValue, { nil: undefined }),
  pendingEvents: fc.option(
    fc.record({
      commit: secretValue,
      at: iso,
      events: fc.array(
        fc.record({
          type: fc.constant('bus.build.run.failed'),
          data: fc.record({ code: fc.constant('internal_error'), internalReason: reasonValue }),
        }),
        { maxLength: 2 },
      ),
    }),
    { nil: undefined },
  ),
  versions: fc.option(
    fc
      .integer({ min: 1, max: 3 })
      .chain((k) => fc.tuple(...Array.from({ length: k }, (_, i) => versionArb(i + 1)))),
    { nil: undefined },
  ),
  revision: fc.option(
    fc.record({
      number: fc.integer({ min: 2, max: 4 }),
      baseVersion: fc.integer({ min: 1, max: 3 }),
      retriesAtStart: fc.nat({ max: 2 }),
      firstAttempt: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
      requestedAt: iso,
    }),
    { nil: undefined },
  ),
  createdAt: iso,
  updatedAt: iso,
  endedAt: fc.option(iso, { nil: undefined }),
  version: fc.nat(),
});

export const messageArb = (runId: string): fc.Arbitrary<Message> =>
  fc.record({
    messageId: fc.stringMatching(/^msg_[a-z2-7]{26}$/),
    runId: fc.constant(runId),
    role: fc.constantFrom('visitor' as const, 'assistant' as const),
    text: fc.constantFrom('I need a tip calculator', 'Here is the scope.'),
    at: iso,
  });

const stage = fc.constantFrom(...(Object.keys(PROGRESS_SENTENCES) as (keyof typeof PROGRESS_SENTENCES)[]));
const failure = fc.constantFrom(...(Object.keys(FAILURE_SENTENCES) as (keyof typeof FAILURE_SENTENCES)[]));

export const eventArb: fc.Arbitrary<BuildEvent> = fc
  .record({
    runId: runIdArb,
    seq: fc.integer({ min: 1, max: 1e6 }),
    at: iso,
    type: fc.constantFrom(...BUILD_EVENT_TYPES),
  })
  .chain(({ type, ...base }) => {
    const data: fc.Arbitrary<unknown> = (() => {
      switch (type) {
        case 'bus.build.message.added':
          return fc.record({ messageId: fc.string(), role: fc.constantFrom('visitor', 'assistant') });
        case 'bus.build.quote.ready':
          return fc.record({
            quoteVersion: fc.integer({ min: 1, max: 9 }),
            amountCents: fc.nat(),
            currency: fc.constant('eur'),
          });
        case 'bus.build.run.authorized':
          return fc.record({ method: fc.constantFrom('manual', 'stripe'), actor: emailValue });
        case 'bus.build.repo.ready':
          return fc.record({ repoId: repoIdValue, branch: branchValue });
        case 'bus.build.worker.assigned':
          return fc.record({
            workerId: workerIdValue,
            taskRef: taskRefValue,
            attempt: fc.integer({ min: 1, max: 3 }),
          });
        case 'bus.build.progress.updated':
          return fc.record(
            {
              stage,
              internalDetail: reasonValue,
              features: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 12 }),
            },
            { requiredKeys: ['stage', 'internalDetail'] },
          );
        case 'bus.build.artifact.submitted':
          return fc.record({
            attempt: fc.integer({ min: 1, max: 3 }),
            artifactCount: fc.nat(),
            manifestKey: evidenceKey,
          });
        case 'bus.build.artifact.verified':
          return fc.record({
            artifactIds: fc.array(fc.string()),
            kinds: fc.array(fc.constantFrom('web', 'binary')),
          });
        case 'bus.build.run.failed':
          return fc.record({ code: failure, internalReason: reasonValue });
        case 'bus.build.revision.requested':
        case 'bus.build.revision.failed':
          return fc.record({
            version: fc.integer({ min: 2, max: 9 }),
            baseVersion: fc.integer({ min: 1, max: 8 }),
          });
        case 'bus.build.version.published':
          return fc.record({ version: fc.integer({ min: 1, max: 9 }) });
        default:
          return fc.constant({});
      }
    })();
    return data.map((d) => ({ ...base, type, data: d }) as BuildEvent);
  });
