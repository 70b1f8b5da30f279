/** A run delivered as version 1 with a web app, a download and a receipt (as Publish leaves it). */
import { AcceptanceCheckSchema } from '../../lib/domain/acceptance.ts';
import { transition } from '../../lib/domain/lifecycle.ts';
import type { VerifiedArtifact } from '../../lib/domain/manifest.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { publishedVersion } from '../../lib/domain/versions.ts';
import { quotedRun, T0 } from '../unit/orchestrator-fakes.ts';

export const WEB_CHECK = AcceptanceCheckSchema.parse({
  kind: 'web',
  id: 'tip-split',
  title: 'Split between 3 people shows 38.33 each',
  steps: [{ action: 'fill', label: 'People', value: '3' }],
  expect: [{ type: 'number', value: 38.33, tolerance: 0.005 }],
});
export const CLI_CHECK = AcceptanceCheckSchema.parse({
  kind: 'cli',
  id: 'tip-cli',
  title: 'A 100 bill with 15 percent tip shows 115.00',
  args: ['100', '15'],
  expect: [{ op: 'contains', value: '115.00' }],
});

/** Strings that exist on the run but must never reach an answer. */
export const INTERNAL = {
  path: 'dist/bin/internal-build-path',
  key: 'runs/internal-published-key',
  commit: 'c0ffee'.repeat(6).slice(0, 40).padEnd(40, '0'),
  name: 'artifact-name-from-the-worker',
  request: 'CANARY-REQUEST-TEXT',
  summary: 'CANARY-SUMMARY',
};

export function deliveredRun(type: 'web' | 'binary' | 'both' = 'both'): BuildRun {
  const quoted = quotedRun(type);
  const checks = type === 'web' ? [WEB_CHECK] : type === 'binary' ? [CLI_CHECK] : [WEB_CHECK, CLI_CHECK];
  const spec = {
    ...quoted.spec!,
    title: 'Tip Splitter',
    summary: INTERNAL.summary,
    requestText: INTERNAL.request,
    features: ['Enter the bill and a tip percentage', 'Split between any number of people'],
    checks,
  };
  const artifacts: VerifiedArtifact[] = [];
  if (type !== 'binary')
    artifacts.push({
      artifact_id: 'web',
      kind: 'web',
      name: INTERNAL.name,
      path: `${INTERNAL.path}/web`,
      sha256: 'a'.repeat(64),
      size_bytes: 1000,
      entrypoint: 'index.html',
      source_included: false,
      published_key: `${INTERNAL.key}/web`,
      content_type: 'text/html; charset=utf-8',
      verified_at: T0,
      receipt: { checks: [{ id: 'tip-split', kind: 'web', passed: true, ranOn: 'web' }] },
    });
  if (type !== 'web')
    artifacts.push({
      artifact_id: 'linux-amd64',
      kind: 'binary',
      name: INTERNAL.name,
      path: INTERNAL.path,
      sha256: 'b'.repeat(64),
      size_bytes: 2000,
      platform: 'linux-amd64',
      source_included: false,
      published_key: `${INTERNAL.key}/bin`,
      content_type: 'application/octet-stream',
      verified_at: T0,
      receipt: { checks: [{ id: 'tip-cli', kind: 'cli', passed: true, ranOn: 'linux-amd64' }] },
    });
  const v1 = publishedVersion({
    number: 1,
    spec,
    quote: quoted.quote!,
    commit: INTERNAL.commit,
    attempt: 1,
    artifacts,
    at: T0,
  });
  const ready = {
    ...quoted,
    spec,
    phase: 'artifact_ready' as const,
    attempts: 1,
    artifacts,
    versions: [v1],
    payment: { status: 'captured' as const, method: 'stripe' as const, paymentIntentId: 'pi_secret_1' },
  };
  return transition(ready, 'delivered', {}, T0);
}
