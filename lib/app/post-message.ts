import type { BuildSpec } from '../domain/build-spec.ts';
import { type NewBuildEvent, newEvent } from '../domain/events.ts';
import { newMessageId } from '../domain/ids.ts';
import { answerQuestion, toolFacts } from '../domain/intake/answers.ts';
import type { IntakeEngine } from '../domain/intake/engine.ts';
import { priceLine } from '../domain/intake/scope.ts';
import { transition, update } from '../domain/lifecycle.ts';
import { settlementAction } from '../domain/payment.ts';
import { priceQuote, priceRevision } from '../domain/pricing.ts';
import type { BuildRun, IntakeState, Message } from '../domain/run.ts';
import { currentVersion, findVersion, openRevision, withPaymentSnapshot } from '../domain/versions.ts';
import { log } from '../log.ts';
import { type Caller, loadOwnedRun } from './access.ts';
import type { AppDeps } from './deps.ts';
import { recordEvents } from './record.ts';

/** Appended to a quote while the run has no contact address (required before approval). */
export const ASK_FOR_EMAIL =
  'To go ahead, please leave your email address: we need it before the build can start, and with it you can come back to this run from any device.';

/**
 * Whether a message continues a delivered tool's conversation: after delivery (or a failed change)
 * it is a change request or a question; while a change is quoted it re-quotes the change.
 */
function isChangeConversation(run: BuildRun): boolean {
  if (!currentVersion(run)) return false;
  if (run.phase === 'quoted') return Boolean(run.revision);
  return run.phase === 'artifact_ready' || run.phase === 'delivered' || run.phase === 'failed';
}

/** The spec of the version a change starts from. */
function baseVersionSpec(run: BuildRun): BuildSpec | undefined {
  const base = run.revision ? findVersion(run, run.revision.baseVersion) : currentVersion(run);
  return base?.spec;
}

/**
 * The intake state a message after delivery is read with: the clarifying-question count starts
 * again once per delivered version (the first message about changing it), and then keeps
 * counting, so the two-question limit holds for the whole change conversation. A quoted change
 * keeps its own state.
 */
function changeIntake(run: BuildRun, changeOf: number | undefined): IntakeState {
  if (run.phase === 'quoted' || run.intake.changeOf === changeOf) return run.intake;
  return {
    requestText: run.intake.requestText,
    questionsAsked: 0,
    ...(changeOf !== undefined && { changeOf }),
  };
}

/**
 * A change resets `run.payment` for the revision, and the settle reconcile works on `run.payment`:
 * while the current version's card payment is still open (a capture or release retried after a
 * Stripe outage), opening a change would drop it (a verified version never charged, or a hold
 * never released). The change waits until it is settled (minutes, by the reconcile).
 */
function settlingReply(run: BuildRun): string | undefined {
  if (run.phase === 'quoted' || settlementAction(run) === 'none') return undefined;
  const n = currentVersion(run)?.number ?? 1;
  return `Your payment for version ${n} is still being completed. Please ask for your change again in a few minutes; your tool stays as it is.`;
}

const BUSY_REPLY =
  'Your build is already approved and underway, so the scope can’t change now. Progress appears here as it happens.';

/**
 * The intake for this message: a model-backed engine while the session's daily model budget
 * lasts, its model-free rules (the offline intake) after that. The visitor notices only answers
 * from the rules; nothing fails.
 */
async function intakeFor(deps: AppDeps, caller: Caller): Promise<IntakeEngine> {
  const modelFree = deps.intake.modelFree;
  if (!modelFree || !deps.modelBudget) return deps.intake;
  if (await deps.modelBudget(caller.sessionId)) return deps.intake;
  log.info('model budget of the session spent: offline intake');
  return modelFree;
}

/**
 * A visitor message: the intake answers, and a complete request becomes a scope and a quote.
 * The run is saved first (conditional on its version), so a lost race stores nothing.
 */
export async function postMessage(
  deps: AppDeps,
  caller: Caller,
  runId: string,
  text: string,
): Promise<{ run: BuildRun; reply: Message }> {
  const run = await loadOwnedRun(deps.store, runId, caller);
  const now = deps.now();
  let next: BuildRun = run;
  let replyText: string;
  const events: NewBuildEvent[] = [];

  const changing = isChangeConversation(run);
  if (run.phase === 'drafting' || run.phase === 'quoted' || changing) {
    // A delivered tool (or its quoted change): the message is read against the version it changes.
    const base = changing ? baseVersionSpec(run) : undefined;
    const changeOf = changing ? currentVersion(run)?.number : undefined;
    const asked: BuildRun = base
      ? {
          ...run,
          spec: run.phase === 'quoted' ? run.spec : base,
          intake: changeIntake(run, changeOf),
        }
      : run;
    const outcome = await (await intakeFor(deps, caller)).respond(asked, text, { revision: Boolean(base) });
    if (outcome.kind === 'answer') {
      // A question about the delivered tool: the topic's fixed sentence, no quote, phase unchanged.
      const facts = toolFacts(run, deps.priceTable);
      replyText = facts ? answerQuestion(outcome.topic, facts) : BUSY_REPLY;
      next = update(run, { intake: { ...outcome.intake, ...(changeOf !== undefined && { changeOf }) } }, now);
    } else if (outcome.kind === 'quote' && changing && settlingReply(run)) {
      // A change while the current version's payment is still open waits (questions are answered).
      log.info('change request waits for the open payment of the current version', { runId });
      replyText = settlingReply(run)!;
      next = update(run, {}, now);
    } else if (outcome.kind === 'quote') {
      replyText = outcome.reply;
      const quoteVersion = (run.quote?.version ?? 0) + 1;
      const revision = base ? openRevision(run, now) : undefined;
      const quote =
        base && revision
          ? priceRevision(outcome.spec, base, deps.priceTable, {
              quoteVersion,
              versionNumber: revision.number,
              now,
            })
          : priceQuote(outcome.spec, deps.priceTable, quoteVersion, now);
      replyText = [replyText, priceLine(quote), ...(run.owner.email ? [] : [ASK_FOR_EMAIL])].join('\n');
      const patch = {
        // A change's quote keeps the version its question count is for (see `changeIntake`), so a
        // failed change does not start the count again.
        intake: base && changeOf ? { ...outcome.intake, changeOf } : outcome.intake,
        spec: outcome.spec,
        artifactType: outcome.spec.artifactType,
        quote,
        payment: { status: 'none' as const },
        ...(revision && { revision, versions: withPaymentSnapshot(run) }),
      };
      next = run.phase === 'quoted' ? update(run, patch, now) : transition(run, 'quoted', patch, now);
      if (revision && run.phase !== 'quoted') {
        events.push(
          newEvent('bus.build.revision.requested', {
            version: revision.number,
            baseVersion: revision.baseVersion,
          }),
        );
      }
      events.push(
        newEvent('bus.build.quote.ready', {
          quoteVersion: quote.version,
          amountCents: quote.amountCents,
          currency: quote.currency,
        }),
      );
    } else {
      replyText = outcome.reply;
      // After delivery the question count stays with the version it is for (see `changeIntake`).
      next = update(
        run,
        { intake: base && changeOf ? { ...outcome.intake, changeOf } : outcome.intake },
        now,
      );
    }
  } else {
    replyText = BUSY_REPLY;
    next = update(run, {}, now);
  }

  await deps.store.saveRun(next, { phase: run.phase, version: run.version });

  const visitor: Message = { messageId: newMessageId(), runId, role: 'visitor', text, at: now };
  const reply: Message = {
    messageId: newMessageId(),
    runId,
    role: 'assistant',
    text: replyText,
    at: new Date(Date.parse(now) + 1).toISOString(),
  };
  await deps.store.appendMessage(visitor);
  await deps.store.appendMessage(reply);
  await recordEvents(deps, runId, [
    newEvent('bus.build.message.added', { messageId: visitor.messageId, role: 'visitor' }),
    newEvent('bus.build.message.added', { messageId: reply.messageId, role: 'assistant' }),
    ...events,
  ]);
  return { run: next, reply };
}
