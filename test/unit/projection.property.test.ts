import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checksFor } from '../../lib/domain/acceptance.ts';
import { toPublicArtifact, toPublicEvent, toPublicRun } from '../../lib/domain/projection.ts';
import { PublicArtifactSchema, PublicEventSchema, PublicRunSchema } from '../../lib/domain/public-schemas.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import {
  checkInternals,
  eventArb,
  messageArb,
  runArb,
  SPEC_CHECKS,
  verifiedArtifactArb,
} from '../support/arbitraries.ts';

const FORBIDDEN_KEYS = [
  'path',
  'branch',
  'repoId',
  'repo_id',
  'workerId',
  'worker_id',
  'taskRef',
  'task_ref',
  'email',
  'owner',
  'sessionId',
  'session_id',
  'evidence',
  'published_key',
  'internalReason',
  'internal_reason',
  'internalDetail',
  'executionArn',
  'checkoutSessionId',
  'manifestKey',
  'pendingEvents',
  'commit',
  'screenshot_key',
  'detail',
  'outcomes',
  'id',
];

/** Every string leaf of an internal object that the public JSON must never contain. */
function internalValues(run: BuildRun): string[] {
  const out = [
    run.taskRef,
    run.workerId,
    run.repoId,
    run.branch,
    run.owner.email,
    run.owner.sessionId,
    run.executionArn,
    run.payment.checkoutSessionId,
    run.payment.paymentIntentId,
    run.payment.note,
    run.spec?.recipe,
    run.failure?.internalReason,
    run.pendingEvents?.commit,
    ...(run.pendingEvents?.events.map((e) => String(e.data.internalReason)) ?? []),
    ...run.artifacts.flatMap((a) => [a.path, a.published_key, a.receipt?.screenshot_key]),
    ...(run.manifest?.artifacts.map((a) => a.path) ?? []),
    ...run.evidence.map((e) => e.key),
    ...run.verification.flatMap((v) => [
      v.internalReason,
      ...v.checks.map((c) => c.detail),
      ...(v.outcomes ?? []).map((o) => o.detail),
      v.screenshot?.key,
    ]),
    ...(run.versions ?? []).flatMap((v) => [
      v.commit,
      v.payment?.paymentIntentId,
      v.spec.recipe,
      ...v.artifacts.flatMap((a) => [a.path, a.published_key]),
    ]),
    // Canary checks only: SPEC_CHECKS carry plain words ("10", "km") that may appear elsewhere.
    ...(run.spec?.checks ?? [])
      .filter((c) => !SPEC_CHECKS.some((s) => s.id === c.id))
      .flatMap(checkInternals),
  ];
  return out.filter((v): v is string => typeof v === 'string' && v.length > 0);
}

function keysOf(value: unknown, acc: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) keysOf(v, acc);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      acc.push(k);
      keysOf(v, acc);
    }
  return acc;
}

describe('public projection (property-based)', () => {
  it('toPublicRun never carries internal fields or values', () => {
    fc.assert(
      fc.property(
        runArb.chain((run) => fc.tuple(fc.constant(run), fc.array(messageArb(run.runId), { maxLength: 3 }))),
        ([run, messages]) => {
          const pub = toPublicRun(run, messages);
          PublicRunSchema.parse(pub);
          const text = JSON.stringify(pub);
          for (const value of internalValues(run)) expect(text).not.toContain(value);
          for (const key of keysOf(pub)) expect(FORBIDDEN_KEYS).not.toContain(key);
          expect(text).not.toMatch(/build\/\d{8}\//);
          expect(text).not.toMatch(/\/work\/|\/home\/|evidence\//);
        },
      ),
      { numRuns: 400 },
    );
  }, 120_000); // 400 generated runs: seconds alone, longer on a loaded machine

  it('the quote shows each applicable acceptance check by title and kind only', () => {
    fc.assert(
      fc.property(runArb, (run) => {
        const pub = toPublicRun(run);
        if (!run.quote) {
          expect(pub.quote).toBeNull();
          return;
        }
        const expected = run.spec?.checks ? checksFor(run.spec.checks, run.spec.artifactType) : [];
        expect(pub.quote?.checks).toEqual(expected.map((c) => ({ title: c.title, kind: c.kind })));
        for (const c of pub.quote?.checks ?? []) expect(Object.keys(c).sort()).toEqual(['kind', 'title']);
      }),
      { numRuns: 300 },
    );
  });

  it('toPublicEvent maps to fixed sentences and never carries event data', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        const pub = toPublicEvent(event);
        if (!pub) return;
        PublicEventSchema.parse(pub);
        const text = JSON.stringify(pub);
        const internal = [
          'repoId',
          'branch',
          'workerId',
          'taskRef',
          'internalDetail',
          'internalReason',
          'actor',
          'manifestKey',
        ];
        for (const [key, value] of Object.entries(event.data as Record<string, unknown>)) {
          if (internal.includes(key) && typeof value === 'string') expect(text).not.toContain(value);
        }
        expect(text).not.toMatch(/build\/\d{8}\/|secret-|task_|worker-|repo-|evidence\/|\/home\//);
        expect(pub.seq).toBe(event.seq);
      }),
      { numRuns: 600 },
    );
  });

  it('toPublicArtifact exposes only id, kind, name, platform, size, hash (and a receipt)', () => {
    fc.assert(
      fc.property(verifiedArtifactArb, (artifact) => {
        const pub = toPublicArtifact(artifact);
        PublicArtifactSchema.parse(pub);
        const text = JSON.stringify(pub);
        expect(text).not.toContain(artifact.path);
        expect(text).not.toContain(artifact.published_key);
        expect(Object.keys(pub).sort()).toEqual(
          [
            'artifact_id',
            'kind',
            'name',
            'platform',
            'preview',
            'sha256',
            'size_bytes',
            ...(artifact.receipt ? ['receipt'] : []),
          ].sort(),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('the receipt shows only the approved spec’s titles, results and times: no id, key or detail', () => {
    fc.assert(
      fc.property(verifiedArtifactArb, fc.boolean(), (artifact, withSpec) => {
        const specChecks = withSpec ? SPEC_CHECKS : [];
        const pub = toPublicArtifact(artifact, 'run_abcdefghijklmnopqrstuvwxyz', specChecks);
        PublicArtifactSchema.parse(pub);
        if (!artifact.receipt) {
          expect(pub.receipt).toBeUndefined();
          return;
        }
        const receipt = pub.receipt;
        expect(receipt?.verified_at).toBe(artifact.verified_at);
        expect(receipt?.screenshot).toBe(Boolean(artifact.receipt.screenshot_key));
        // One line per recorded check the spec agreed (same id and kind), in order, with its title.
        const agreed = artifact.receipt.checks.filter((c) =>
          specChecks.some((s) => s.id === c.id && s.kind === c.kind),
        );
        expect(receipt?.checks).toEqual(
          agreed.map((c) => ({
            title: specChecks.find((s) => s.id === c.id)?.title,
            passed: c.passed,
            ran_on: c.kind === 'web' ? 'web' : c.ranOn,
          })),
        );
        const text = JSON.stringify(receipt);
        for (const c of artifact.receipt.checks) expect(text).not.toContain(`"${c.id}"`);
        if (artifact.receipt.screenshot_key) expect(text).not.toContain(artifact.receipt.screenshot_key);
        expect(text).not.toContain('not-in-spec');
      }),
      { numRuns: 300 },
    );
  });

  it('lists artifacts only once the run is verified: the current version, whatever a change is doing', () => {
    fc.assert(
      fc.property(runArb, (run) => {
        const pub = toPublicRun(run);
        const versions = run.versions ?? [];
        if (versions.length > 0) {
          expect(pub.artifacts).toHaveLength(versions[versions.length - 1]?.artifacts.length ?? -1);
          expect(pub.version).toBe(versions.length);
          expect(pub.versions.filter((v) => v.current)).toHaveLength(1);
        } else if (run.phase !== 'artifact_ready' && run.phase !== 'delivered')
          expect(pub.artifacts).toEqual([]);
        else expect(pub.artifacts).toHaveLength(run.artifacts.length);
      }),
    );
  });
});
