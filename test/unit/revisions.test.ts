import { describe, expect, it } from 'vitest';
import type { Caller } from '../../lib/app/access.ts';
import { deliverArtifacts, resolveDownload } from '../../lib/app/deliver.ts';
import type { AppDeps } from '../../lib/app/deps.ts';
import { postMessage } from '../../lib/app/post-message.ts';
import { executionName } from '../../lib/app/start-execution.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { transition } from '../../lib/domain/lifecycle.ts';
import type { VerifiedArtifact } from '../../lib/domain/manifest.ts';
import { settlementAction } from '../../lib/domain/payment.ts';
import { IllegalTransitionError } from '../../lib/domain/phases.ts';
import { DEFAULT_PRICE_TABLE, priceRevision } from '../../lib/domain/pricing.ts';
import { toPublicEvent, toPublicRun } from '../../lib/domain/projection.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { openRevision, publishedArtifactId, publishedVersion } from '../../lib/domain/versions.ts';
import { clock, MemoryPublisher, MemoryRunStore, OWNER, quotedRun, T0 } from './orchestrator-fakes.ts';

const artifact = (id: string, n: number): VerifiedArtifact => ({
  artifact_id: publishedArtifactId(id, n),
  kind: 'binary',
  name: `tip-calculator-${id}`,
  path: `bin/tip-calculator-${id}`,
  sha256: `${n}`.repeat(64).slice(0, 64),
  size_bytes: 1000 + n,
  platform: 'linux-amd64',
  source_included: false,
  published_key: `runs/x/${publishedArtifactId(id, n)}/tip-calculator`,
  content_type: 'application/octet-stream',
  verified_at: T0,
});

/** A run delivered as version 1 (as Publish leaves it, after its links were handed out). */
function deliveredRun(): BuildRun {
  const quoted = quotedRun('binary');
  const artifacts = [artifact('linux-amd64', 1)];
  const v1 = publishedVersion({
    number: 1,
    spec: quoted.spec!,
    quote: quoted.quote!,
    commit: 'a'.repeat(40),
    attempt: 1,
    artifacts,
    at: T0,
  });
  const ready = {
    ...quoted,
    phase: 'artifact_ready' as const,
    attempts: 1,
    artifacts,
    versions: [v1],
    payment: { status: 'captured' as const, method: 'stripe' as const, paymentIntentId: 'pi_secret_1' },
  };
  return transition(ready, 'delivered', {}, T0);
}

function deps(run: BuildRun): AppDeps & { store: MemoryRunStore } {
  const store = new MemoryRunStore();
  store.runs.set(run.runId, run);
  return {
    store,
    publisher: new MemoryPublisher(),
    intake: new OfflineIntake(recipeCatalog),
    priceTable: DEFAULT_PRICE_TABLE,
    now: clock(),
  };
}

const owner: Caller = { sessionId: OWNER.sessionId };

describe('versions: the lifecycle', () => {
  it('only a run with a delivered version can be re-quoted after delivery or failure', () => {
    const fresh = quotedRun('binary');
    const failed = transition(transition(fresh, 'authorized', {}, T0), 'failed', {}, T0);
    const revision = { number: 2, baseVersion: 1, retriesAtStart: 0, requestedAt: T0 };
    expect(() => transition(failed, 'quoted', { revision }, T0)).toThrow(IllegalTransitionError);
    const delivered = deliveredRun();
    expect(() => transition(delivered, 'quoted', {}, T0)).toThrow(IllegalTransitionError);
    expect(transition(delivered, 'quoted', { revision }, T0).phase).toBe('quoted');
    expect(() => transition(delivered, 'authorized', {}, T0)).toThrow(IllegalTransitionError);
  });

  it('a change opens the next version; a failed change reopens under the same number from the base', () => {
    const delivered = deliveredRun();
    const r = openRevision(delivered, T0);
    expect(r).toMatchObject({ number: 2, baseVersion: 1 });
    const failed = {
      ...delivered,
      phase: 'failed' as const,
      revision: { ...r, firstAttempt: 2 },
      retries: 1,
    };
    const again = openRevision(failed, T0);
    expect(again).toMatchObject({ number: 2, baseVersion: 1, retriesAtStart: 1 });
    expect(again.firstAttempt).toBeUndefined();
    expect(() => openRevision(quotedRun(), T0)).toThrow(/no delivered version/);
  });

  it('each version and each retry has an execution name of its own', () => {
    const run = deliveredRun();
    expect(executionName(run)).toBe(run.runId);
    const r = { number: 2, baseVersion: 1, retriesAtStart: 1, requestedAt: T0 };
    expect(executionName({ ...run, retries: 1, revision: r })).toBe(`${run.runId}-v2`);
    expect(executionName({ ...run, retries: 2, revision: r })).toBe(`${run.runId}-v2-retry-2`);
    expect(executionName({ ...run, retries: 1 })).toBe(`${run.runId}-retry-1`);
  });

  it('a revision is priced from the price table: the revision price plus what the change adds', () => {
    const base = quotedRun('binary').spec!;
    const same = priceRevision(base, base, DEFAULT_PRICE_TABLE, {
      quoteVersion: 2,
      versionNumber: 2,
      now: T0,
    });
    expect(same.amountCents).toBe(DEFAULT_PRICE_TABLE.revision);
    const wider = priceRevision(
      { ...base, artifactType: 'both', platforms: ['linux-amd64', 'darwin-arm64', 'windows-amd64'] },
      base,
      DEFAULT_PRICE_TABLE,
      { quoteVersion: 2, versionNumber: 2, now: T0 },
    );
    expect(wider.lineItems.map((i) => i.label)).toEqual([
      'Change to your tool (version 2)',
      'Adds a web app',
      '2 additional platforms',
    ]);
    expect(wider.amountCents).toBe(
      DEFAULT_PRICE_TABLE.revision +
        DEFAULT_PRICE_TABLE.base.both -
        DEFAULT_PRICE_TABLE.base.binary +
        2 * DEFAULT_PRICE_TABLE.perExtraPlatform,
    );
  });
});

describe('versions: the conversation goes on after delivery', () => {
  it('a change request re-quotes the delivered run as version 2, priced as a revision', async () => {
    const run = deliveredRun();
    const d = deps(run);
    const { run: next, reply } = await postMessage(d, owner, run.runId, 'Can I also have it for Mac?');
    expect(next.phase).toBe('quoted');
    expect(next.revision).toMatchObject({ number: 2, baseVersion: 1 });
    expect(next.spec?.platforms).toEqual(
      expect.arrayContaining(['linux-amd64', 'darwin-arm64', 'darwin-amd64']),
    );
    expect(next.quote?.lineItems[0]?.label).toBe('Change to your tool (version 2)');
    expect(next.quote?.version).toBe(2);
    expect(next.payment.status).toBe('none');
    // Version 1's payment is kept with it; its artifacts stay listed.
    expect(next.versions?.[0]?.payment).toMatchObject({ status: 'captured', paymentIntentId: 'pi_secret_1' });
    const pub = toPublicRun(next);
    expect(pub).toMatchObject({ version: 1, revision: { version: 2, base_version: 1 } });
    expect(pub.artifacts.map((a) => a.artifact_id)).toEqual(['linux-amd64']);
    expect(JSON.stringify(pub)).not.toContain('pi_secret_1');
    expect(reply.text).toMatch(/^The change:/);
    const types = (await d.store.listEvents(run.runId, 0, 100)).events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['bus.build.revision.requested', 'bus.build.quote.ready']));
  });

  it('while version 1’s card payment is still being settled, a change waits: the open capture is never dropped', async () => {
    // Publish's capture failed (a Stripe outage): the reconcile retries it on this run's payment.
    const run: BuildRun = {
      ...deliveredRun(),
      payment: {
        status: 'authorized',
        method: 'stripe',
        paymentIntentId: 'pi_open_1',
        quoteVersion: 1,
        settleAttempts: 1,
        nextSettleAt: T0,
      },
    };
    expect(settlementAction(run)).toBe('capture');
    const d = deps(run);
    const { run: kept, reply } = await postMessage(d, owner, run.runId, 'Can I also have it for Mac?');
    expect(kept.phase).toBe('delivered');
    expect(kept.revision).toBeUndefined();
    expect(kept.payment).toEqual(run.payment);
    expect(settlementAction(kept)).toBe('capture');
    expect(reply.text).toMatch(/payment for version 1 is still being completed/);
    const types = (await d.store.listEvents(run.runId, 0, 100)).events.map((e) => e.type);
    expect(types).not.toContain('bus.build.revision.requested');

    // Once captured, the same message is a change.
    const captured = {
      ...kept,
      payment: { ...kept.payment, status: 'captured' as const },
      version: kept.version + 1,
    };
    d.store.runs.set(run.runId, captured);
    const { run: next } = await postMessage(d, owner, run.runId, 'Can I also have it for Mac?');
    expect(next).toMatchObject({ phase: 'quoted', revision: { number: 2 } });
    expect(next.versions?.[0]?.payment).toMatchObject({ status: 'captured', paymentIntentId: 'pi_open_1' });
  });

  it('a question is answered without a quote, and the tool stays as it is', async () => {
    const run = deliveredRun();
    const d = deps(run);
    const { run: next, reply } = await postMessage(d, owner, run.runId, 'How do I open it?');
    expect(next.phase).toBe('delivered');
    expect(next.revision).toBeUndefined();
    expect(next.quote).toEqual(run.quote);
    // The answer for "how to run" a downloadable program, not the "stays as it is" fallback.
    expect(reply.text).toMatch(/^Download the file for your computer from the card above/);
    const types = (await d.store.listEvents(run.runId, 0, 100)).events.map((e) => e.type);
    expect(types).not.toContain('bus.build.quote.ready');
    expect(types).not.toContain('bus.build.revision.requested');

    const platforms = await postMessage(d, owner, run.runId, 'Does it run on Mac?');
    expect(platforms.run.phase).toBe('delivered');
    expect(platforms.reply.text).toMatch(/^Version 1 runs on: Linux \(x86-64\)\./);
    const other = await postMessage(d, owner, run.runId, 'Is the sky blue today?');
    expect(other.reply.text).toMatch(/^Your tool stays as it is\. I can answer what it does/);
  });

  it('asking for a different tool is declined politely', async () => {
    const run = deliveredRun();
    const { run: next, reply } = await postMessage(
      deps(run),
      owner,
      run.runId,
      'Make it a word counter instead',
    );
    expect(next.phase).toBe('delivered');
    expect(reply.text).toMatch(/different tool/);
  });

  it('a quoted change can be changed again: same version, new quote version', async () => {
    const run = deliveredRun();
    const d = deps(run);
    await postMessage(d, owner, run.runId, 'Also for Mac please');
    const { run: next } = await postMessage(d, owner, run.runId, 'Call it Bill Splitter');
    expect(next.revision?.number).toBe(2);
    expect(next.quote?.version).toBe(3);
    expect(next.spec?.title).toBe('Bill Splitter');
    const types = (await d.store.listEvents(run.runId, 0, 100)).events.filter(
      (e) => e.type === 'bus.build.revision.requested',
    );
    expect(types).toHaveLength(1);
  });

  it('every delivered version stays listed and downloadable; another session gets 404 for each', async () => {
    const run = deliveredRun();
    const v2 = publishedVersion({
      number: 2,
      spec: run.spec!,
      quote: run.quote!,
      commit: 'b'.repeat(40),
      attempt: 2,
      artifacts: [artifact('linux-amd64', 2)],
      at: T0,
    });
    const both = { ...run, versions: [...(run.versions ?? []), v2], artifacts: v2.artifacts };
    const d = deps(both);
    const current = await deliverArtifacts(d, owner, run.runId);
    expect(current.version).toBe(2);
    expect(current.artifacts.map((a) => a.artifact_id)).toEqual(['linux-amd64-v2']);
    const first = await deliverArtifacts(d, owner, run.runId, 1);
    expect(first.artifacts.map((a) => a.artifact_id)).toEqual(['linux-amd64']);
    await expect(deliverArtifacts(d, owner, run.runId, 3)).rejects.toMatchObject({ status: 404 });
    expect((await resolveDownload(d, owner, run.runId, 'linux-amd64')).sha256).not.toBe(
      (await resolveDownload(d, owner, run.runId, 'linux-amd64-v2')).sha256,
    );
    const stranger: Caller = { sessionId: 'ses_bbbbbbbbbbbbbbbbbbbbbbbbbb' };
    for (const v of [undefined, 1, 2]) {
      await expect(deliverArtifacts(d, stranger, run.runId, v)).rejects.toMatchObject({ status: 404 });
    }
    for (const id of ['linux-amd64', 'linux-amd64-v2']) {
      await expect(resolveDownload(d, stranger, run.runId, id)).rejects.toMatchObject({ status: 404 });
    }
  });

  it('a failed change says the delivered version is still there, and the visitor can ask again', async () => {
    const run = deliveredRun();
    const revision = { number: 2, baseVersion: 1, retriesAtStart: 0, requestedAt: T0, firstAttempt: 2 };
    const failed: BuildRun = {
      ...run,
      phase: 'failed',
      revision,
      failure: { code: 'verification_failed', internalReason: 'x', at: T0 },
    };
    expect(toPublicRun(failed).status_message).toMatch(/Version 1 is still delivered and unchanged/);
    expect(toPublicRun(failed).artifacts).toHaveLength(1);
    const e = toPublicEvent({
      runId: run.runId,
      seq: 9,
      at: T0,
      type: 'bus.build.revision.failed',
      data: { version: 2, baseVersion: 1 },
    });
    expect(e?.message).toBe('Version 2 could not be finished. Version 1 is still delivered and unchanged.');
    const d = deps(failed);
    const { run: next } = await postMessage(d, owner, run.runId, 'Then only for Windows please');
    expect(next.phase).toBe('quoted');
    expect(next.revision).toMatchObject({ number: 2, baseVersion: 1, opened: 2 });
    expect(next.revision?.firstAttempt).toBeUndefined();
    // Its build is a new execution: the failed build's name `{run}-v2` is never started again.
    expect(executionName(failed)).toBe(`${run.runId}-v2`);
    expect(executionName(next)).toBe(`${run.runId}-v2-again-2`);
    // Asked once more after that failed too, and operator retries of it: new names each time.
    const third = openRevision({ ...next, phase: 'failed' }, T0);
    expect(third).toMatchObject({ number: 2, opened: 3 });
    expect(executionName({ ...next, revision: third })).toBe(`${run.runId}-v2-again-3`);
    expect(executionName({ ...next, revision: third, retries: 1 })).toBe(`${run.runId}-v2-again-3-retry-1`);
  });
});
