import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { approveRun } from '../../lib/app/approve-run.ts';
import { confirmContact, setContact } from '../../lib/app/contact.ts';
import { createRun } from '../../lib/app/create-run.ts';
import type { AppDeps } from '../../lib/app/deps.ts';
import { requestEmailCode } from '../../lib/app/email-login.ts';
import { listMyRuns } from '../../lib/app/list-my-runs.ts';
import { ASK_FOR_EMAIL, postMessage } from '../../lib/app/post-message.ts';
import { emailKey } from '../../lib/domain/email.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { isOwnedBy, newBuildRun, transition } from '../../lib/domain/lifecycle.ts';
import { DEFAULT_PRICE_TABLE } from '../../lib/domain/pricing.ts';
import { toPublicEvent, toPublicRun } from '../../lib/domain/projection.ts';
import { MemoryLoginStore, MemoryMailer } from './email-fakes.ts';
import { clock, FakeStarter, MemoryPublisher, MemoryRunStore, quotedRun, T0 } from './orchestrator-fakes.ts';

const ALICE = { sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa' };
const BOB = { sessionId: 'ses_bbbbbbbbbbbbbbbbbbbbbbbbbb' };

let store: MemoryRunStore;
let index: MemoryLoginStore;
let mailer: MemoryMailer;
let deps: AppDeps;

beforeEach(() => {
  store = new MemoryRunStore();
  index = new MemoryLoginStore();
  mailer = new MemoryMailer();
  deps = {
    store,
    publisher: new MemoryPublisher(),
    intake: new OfflineIntake(recipeCatalog),
    priceTable: DEFAULT_PRICE_TABLE,
    now: clock(),
  };
});

const contactDeps = () => ({
  store,
  runIndex: index,
  logins: index,
  mailer,
  pepper: async () => 'pepper-pepper-pepper',
  now: deps.now,
});
const loginDeps = () => ({ ...contactDeps(), runs: store });

/** Sets the contact and confirms it with the code mailed to it, as the owner does in the chat. */
async function setConfirmedContact(caller: typeof ALICE, runId: string, email: string) {
  await setContact(contactDeps(), caller, runId, email);
  return confirmContact(contactDeps(), caller, runId, mailer.lastCode()!);
}

async function quoted(caller = ALICE) {
  const run = await createRun(deps, caller, index);
  await postMessage(deps, caller, run.runId, 'I need a tip calculator');
  const { run: q, reply } = await postMessage(deps, caller, run.runId, 'A web app please');
  expect(q.phase).toBe('quoted');
  return { run: q, reply };
}

describe('contact email on a run', () => {
  it('the quote asks for an email while none is set, and not once it is', async () => {
    const { run, reply } = await quoted();
    expect(reply.text).toContain(ASK_FOR_EMAIL);
    await setConfirmedContact(ALICE, run.runId, 'ada@example.org');
    const again = await postMessage(deps, ALICE, run.runId, 'A web app please, with a dark theme');
    expect(again.run.phase).toBe('quoted');
    expect(again.reply.text).not.toContain(ASK_FOR_EMAIL);
  });

  it('stores the normalised address unconfirmed, mails it a code, and indexes it only once confirmed', async () => {
    const { run } = await quoted();
    const next = await setContact(contactDeps(), ALICE, run.runId, 'Ada@Example.org');
    expect(next.owner).toEqual({
      sessionId: ALICE.sessionId,
      email: 'ada@example.org',
      emailVerified: false,
    });
    expect((await store.getRun(run.runId))!.owner.email).toBe('ada@example.org');
    const byEmail = () => index.listRunIds({ kind: 'email', emailKey: emailKey('ada@example.org') }, 10);
    expect(await byEmail()).toEqual([]);
    expect(mailer.sent.map((m) => m.to)).toEqual(['ada@example.org']);
    const pub = toPublicRun(next);
    expect(pub).toMatchObject({ contact_email_set: true, contact_email_confirmed: false });
    expect(JSON.stringify(pub)).not.toMatch(/ada|example\.org/i);

    // A wrong code, then another session's attempt (404), then the owner's right code.
    const code = mailer.lastCode()!;
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await expect(confirmContact(contactDeps(), ALICE, run.runId, wrong)).rejects.toMatchObject({
      code: 'invalid_code',
    });
    await expect(confirmContact(contactDeps(), BOB, run.runId, code)).rejects.toMatchObject({
      code: 'not_found',
    });
    const confirmed = await confirmContact(contactDeps(), ALICE, run.runId, code);
    expect(confirmed.owner.emailVerified).toBe(true);
    expect(toPublicRun(confirmed).contact_email_confirmed).toBe(true);
    expect(await byEmail()).toEqual([run.runId]);
  });

  it('a code for the old address does not confirm a changed one', async () => {
    const { run } = await quoted();
    await setContact(contactDeps(), ALICE, run.runId, 'old@example.org');
    const oldCode = mailer.lastCode()!;
    await setContact(contactDeps(), ALICE, run.runId, 'new@example.org');
    const newCode = mailer.lastCode()!;
    if (oldCode !== newCode)
      await expect(confirmContact(contactDeps(), ALICE, run.runId, oldCode)).rejects.toMatchObject({
        code: 'invalid_code',
      });
    expect((await confirmContact(contactDeps(), ALICE, run.runId, newCode)).owner).toMatchObject({
      email: 'new@example.org',
      emailVerified: true,
    });
  });

  it('limits confirmation codes per session: the 6th in 15 minutes is 429', async () => {
    const { run } = await quoted();
    for (let i = 0; i < 5; i++) await setContact(contactDeps(), ALICE, run.runId, `a${i}@example.org`);
    await expect(setContact(contactDeps(), ALICE, run.runId, 'a9@example.org')).rejects.toMatchObject({
      code: 'rate_limited',
      status: 429,
    });
    expect((await store.getRun(run.runId))!.owner.email).toBe('a4@example.org');
  });

  it('is verified when the caller signed in with that very address', async () => {
    const { run } = await quoted();
    const next = await setContact(
      contactDeps(),
      { ...ALICE, email: 'ada@example.org' },
      run.runId,
      'ADA@example.org',
    );
    expect(next.owner.emailVerified).toBe(true);
    expect(mailer.sent).toEqual([]);
  });

  it('moves the index entry when the address changes', async () => {
    const { run } = await quoted();
    await setConfirmedContact(ALICE, run.runId, 'old@example.org');
    await setConfirmedContact(ALICE, run.runId, 'new@example.org');
    expect(await index.listRunIds({ kind: 'email', emailKey: emailKey('old@example.org') }, 10)).toEqual([]);
    expect(await index.listRunIds({ kind: 'email', emailKey: emailKey('new@example.org') }, 10)).toEqual([
      run.runId,
    ]);
  });

  it('is owner only (404 for another session) and locked after approval (409 contact_locked)', async () => {
    const { run } = await quoted();
    await expect(setContact(contactDeps(), BOB, run.runId, 'eve@example.org')).rejects.toMatchObject({
      code: 'not_found',
      status: 404,
    });
    await setConfirmedContact(ALICE, run.runId, 'ada@example.org');
    await approveRun({ ...deps, starter: new FakeStarter() }, run.runId, { actor: 'op', method: 'manual' });
    await expect(setContact(contactDeps(), ALICE, run.runId, 'other@example.org')).rejects.toMatchObject({
      code: 'contact_locked',
      status: 409,
    });
    expect((await store.getRun(run.runId))!.owner.email).toBe('ada@example.org');
  });
});

describe('approval requires a contact address', () => {
  it('refuses a quoted run without an email with 409 contact_required and changes nothing', async () => {
    const base = quotedRun();
    const run = { ...base, owner: { sessionId: ALICE.sessionId, emailVerified: false } };
    await store.createRun(run);
    const starter = new FakeStarter();
    await expect(
      approveRun({ ...deps, starter }, run.runId, { actor: 'op', method: 'manual' }),
    ).rejects.toMatchObject({ code: 'contact_required', status: 409 });
    expect((await store.getRun(run.runId))!).toMatchObject({ phase: 'quoted', version: run.version });
    expect(starter.calls).toBe(0);
    expect(store.events.get(run.runId) ?? []).toEqual([]);
  });

  it('refuses an unconfirmed contact with 409 contact_unconfirmed', async () => {
    const { run } = await quoted();
    await setContact(contactDeps(), ALICE, run.runId, 'ada@example.org');
    const starter = new FakeStarter();
    await expect(
      approveRun({ ...deps, starter }, run.runId, { actor: 'op', method: 'manual' }),
    ).rejects.toMatchObject({ code: 'contact_unconfirmed', status: 409 });
    expect((await store.getRun(run.runId))!.phase).toBe('quoted');
    expect(starter.calls).toBe(0);
  });

  it('approves once the contact is confirmed', async () => {
    const { run } = await quoted();
    await setConfirmedContact(ALICE, run.runId, 'ada@example.org');
    const res = await approveRun({ ...deps, starter: new FakeStarter() }, run.runId, {
      actor: 'op',
      method: 'manual',
    });
    expect(res).toMatchObject({ started: true });
    expect(res.run.phase).toBe('authorized');
  });
});

describe('ownership by a verified email', () => {
  const run = transition(
    newBuildRun({ sessionId: ALICE.sessionId, email: 'ada@example.org', emailVerified: false }, T0),
    'quoted',
    {},
    T0,
  );
  it('a session signed in with the contact address owns the run only when the owner confirmed it', () => {
    expect(isOwnedBy(run, BOB.sessionId, 'ada@example.org')).toBe(false);
    const confirmed = { ...run, owner: { ...run.owner, emailVerified: true } };
    expect(isOwnedBy(confirmed, BOB.sessionId, 'ada@example.org')).toBe(true);
    expect(isOwnedBy(confirmed, BOB.sessionId, 'eve@example.org')).toBe(false);
    expect(isOwnedBy(run, BOB.sessionId, 'eve@example.org')).toBe(false);
    expect(isOwnedBy(run, BOB.sessionId)).toBe(false);
    expect(
      isOwnedBy(
        { ...run, owner: { sessionId: ALICE.sessionId, emailVerified: false } },
        BOB.sessionId,
        'ada@example.org',
      ),
    ).toBe(false);
  });
});

describe('a run created in a session signed in by email', () => {
  it('gets the verified address as its contact and is listed under it', async () => {
    const run = await createRun(deps, { ...BOB, email: 'ada@example.org' }, index);
    expect(run.owner).toEqual({ sessionId: BOB.sessionId, email: 'ada@example.org', emailVerified: true });
    expect(await index.listRunIds({ kind: 'email', emailKey: emailKey('ada@example.org') }, 10)).toEqual([
      run.runId,
    ]);
    expect(toPublicRun(run).contact_email_set).toBe(true);
  });
});

describe('listing my runs', () => {
  it("lists the session's runs and, with a verified email, that email's runs; newest first; never others'", async () => {
    const a1 = await createRun(deps, ALICE, index);
    const b1 = await createRun(deps, BOB, index);
    const a2 = await createRun(deps, ALICE, index);
    await postMessage(deps, ALICE, a2.runId, 'I need a tip calculator');
    await setConfirmedContact(ALICE, a2.runId, 'ada@example.org');

    const alice = await listMyRuns({ store, runIndex: index }, ALICE);
    expect(alice.map((r) => r.runId)).toEqual([a2.runId, a1.runId]);
    expect((await listMyRuns({ store, runIndex: index }, BOB)).map((r) => r.runId)).toEqual([b1.runId]);
    // Bob signs in with Ada's address: her contact run plus his own run.
    const bobAsAda = await listMyRuns({ store, runIndex: index }, { ...BOB, email: 'ada@example.org' });
    expect(bobAsAda.map((r) => r.runId)).toEqual([a2.runId, b1.runId]);
    // A changed contact drops the run from the old address (stale index entries are filtered too).
    await index.addRun({ kind: 'email', emailKey: emailKey('eve@example.org') }, a1.runId, a1.createdAt);
    expect(await listMyRuns({ store, runIndex: index }, { ...BOB, email: 'eve@example.org' })).toHaveLength(
      1,
    );
  });
});

describe('a run planted with a victim’s address', () => {
  it('never mails the victim a sign-in code and never appears in the victim’s list', async () => {
    const victim = 'victim@example.org';
    const MALLORY = { sessionId: 'ses_mmmmmmmmmmmmmmmmmmmmmmmmmm' };
    const VICTIM_DEVICE = { sessionId: 'ses_vvvvvvvvvvvvvvvvvvvvvvvvvv' };
    // Mallory plants a run with the victim's address as its contact (never confirmed).
    const { run: planted } = await quoted(MALLORY);
    await setContact(contactDeps(), MALLORY, planted.runId, victim);
    const confirmationMails = mailer.sent.length;
    // Mallory asks for a sign-in code for the victim's address: nothing is mailed.
    await requestEmailCode(loginDeps(), victim, { sessionId: MALLORY.sessionId, sourceIp: '198.51.100.1' });
    expect(mailer.sent).toHaveLength(confirmationMails);
    // The victim has a run of her own, confirmed, and signs in by email on another device.
    const { run: own } = await quoted();
    await setConfirmedContact(ALICE, own.runId, victim);
    await requestEmailCode(loginDeps(), victim, { sessionId: VICTIM_DEVICE.sessionId });
    expect(mailer.sent.at(-1)!.subject).toMatch(/sign-in code/);
    const list = await listMyRuns({ store, runIndex: index }, { ...VICTIM_DEVICE, email: victim });
    expect(list.map((r) => r.runId)).toEqual([own.runId]);
    expect(isOwnedBy((await store.getRun(planted.runId))!, VICTIM_DEVICE.sessionId, victim)).toBe(false);
  });
});

describe('emails never leave the backend (fuzz)', () => {
  it('no public run, event or listing of any visitor contains the contact address', async () => {
    const emailArb = fc
      .tuple(fc.stringMatching(/^[a-z0-9]{8,12}$/), fc.stringMatching(/^[a-z0-9]{8}$/))
      .map(([core, host]) => ({
        raw: ` Lead.${core.toUpperCase()}+x@Mail-${host}.Example.org `,
        local: `lead.${core}`,
        domain: `mail-${host}`,
      }));
    await fc.assert(
      fc.asyncProperty(emailArb, async ({ raw, local, domain }) => {
        store = new MemoryRunStore();
        index = new MemoryLoginStore();
        deps = { ...deps, store };
        const { run } = await quoted();
        const withContact = await setConfirmedContact(ALICE, run.runId, raw);
        await approveRun({ ...deps, starter: new FakeStarter() }, run.runId, {
          actor: 'operator',
          method: 'manual',
        });
        const events = (await store.listEvents(run.runId, 0, 1000)).events.map(toPublicEvent);
        const views = [
          toPublicRun(withContact),
          toPublicRun((await store.getRun(run.runId))!),
          events,
          (await listMyRuns({ store, runIndex: index }, ALICE)).map((r) => toPublicRun(r)),
          (await listMyRuns({ store, runIndex: index }, BOB)).map((r) => toPublicRun(r)),
        ];
        const json = JSON.stringify(views).toLowerCase();
        expect(json).not.toContain(local);
        expect(json).not.toContain(`${domain}.example.org`);
        expect(json).not.toContain(emailKey(raw));
      }),
      { numRuns: 25 },
    );
  });
});
