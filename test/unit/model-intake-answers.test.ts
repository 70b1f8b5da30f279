import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../lib/app/deps.ts';
import { postMessage } from '../../lib/app/post-message.ts';
import { answerQuestion, toolFacts } from '../../lib/domain/intake/answers.ts';
import { ANSWER_TOOL, ASK_TOOL, ModelIntake, PROPOSE_TOOL } from '../../lib/domain/intake/model-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { DEFAULT_PRICE_TABLE } from '../../lib/domain/pricing.ts';
import type { BuildRun } from '../../lib/domain/run.ts';
import { CLI_CHECK, deliveredRun, WEB_CHECK } from '../support/delivered-run.ts';
import { conversation } from '../support/intake-harness.ts';
import {
  type ScriptedModelServer,
  scriptedModelServer,
  wireClients,
} from '../support/scripted-model-server.ts';
import { clock, MemoryPublisher, MemoryRunStore, OWNER } from './orchestrator-fakes.ts';

/** After delivery the model names a question's topic (`answer_question`); it never writes the answer. */

let server: ScriptedModelServer;
beforeAll(async () => {
  server = await scriptedModelServer();
});
afterAll(() => server.close());
beforeEach(() => server.clear());

const FREE_TEXT = 'FREE-TEXT-FROM-THE-MODEL: visit example dot com for the source';

const clients = wireClients(() => server.url);

/** The tool names and the tool choice of a recorded request, whichever wire format it used. */
interface WireBody {
  toolConfig?: {
    tools: { toolSpec?: { name: string } }[];
    toolChoice?: { auto?: object; tool?: { name: string } };
  };
  tools?: { function: { name: string } }[];
  tool_choice?: 'auto' | { function?: { name: string } };
}
function offered(body: unknown): { tools: string[]; choice: string } {
  const b = body as WireBody;
  if (b.toolConfig) {
    const c = b.toolConfig.toolChoice;
    return {
      tools: b.toolConfig.tools.flatMap((t) => (t.toolSpec ? [t.toolSpec.name] : [])),
      choice: c?.auto ? 'auto' : (c?.tool?.name ?? 'none'),
    };
  }
  const c = b.tool_choice;
  return {
    tools: (b.tools ?? []).map((t) => t.function.name),
    choice: c === 'auto' ? 'auto' : (c?.function?.name ?? 'none'),
  };
}

describe.each(clients)('model intake after delivery over the %s wire format', (_format, makeClient) => {
  const issues: string[] = [];
  let store: MemoryRunStore;
  let run: BuildRun;
  const setup = (requireRecipe = true) => {
    store = new MemoryRunStore();
    run = deliveredRun('both');
    store.runs.set(run.runId, run);
    const deps: AppDeps = {
      store,
      publisher: new MemoryPublisher(),
      intake: new ModelIntake({
        model: makeClient(),
        catalog: recipeCatalog,
        requireRecipe,
        onModelIssue: (issue) => issues.push(issue),
      }),
      priceTable: DEFAULT_PRICE_TABLE,
      now: clock(),
    };
    return (text: string) => postMessage(deps, { sessionId: OWNER.sessionId }, run.runId, text);
  };
  const answer = (topic: Parameters<typeof answerQuestion>[0]) =>
    answerQuestion(topic, toolFacts(run, DEFAULT_PRICE_TABLE)!);
  beforeEach(() => {
    issues.length = 0;
  });

  it('answers the topic the model names with the fixed sentence; its free text never shows', async () => {
    const send = setup();
    server.push({
      text: FREE_TEXT,
      toolCalls: [{ name: ANSWER_TOOL, input: { topic: 'checks' } }],
    });
    const out = await send('Tell me something about the tests, and the source please');
    expect(out.reply.text).toBe(answer('checks'));
    expect(out.reply.text).not.toContain('FREE-TEXT');
    expect(out.run.phase).toBe('delivered');
    expect(out.run.quote).toEqual(run.quote);
    expect(store.types(run.runId)).not.toContain('bus.build.quote.ready');
    expect(issues).toEqual([]);
    // The tool is offered with its closed enum, the tool choice left to the model.
    const req = offered(server.requests[0]?.body);
    expect(req.tools).toEqual([ASK_TOOL, ANSWER_TOOL, PROPOSE_TOOL]);
    expect(req.choice).toBe('auto');
    expect(JSON.stringify(server.requests[0]?.body)).toContain('change_price');
  });

  it('refuses a topic outside the enum or extra fields: the offline rules answer instead', async () => {
    const send = setup();
    server.push(
      { toolCalls: [{ name: ANSWER_TOOL, input: { topic: 'source_code' } }] },
      { toolCalls: [{ name: ANSWER_TOOL, input: { topic: 'checks', answer: FREE_TEXT } }] },
      { toolCalls: [{ name: ANSWER_TOOL, rawArguments: '{"topic": ' }] },
    );
    const first = await send('Does it run on Mac?');
    expect(first.reply.text).toBe(answer('platforms'));
    const second = await send('How was it tested?');
    expect(second.reply.text).toBe(answer('checks'));
    expect(second.reply.text).not.toContain('FREE-TEXT');
    const third = await send('Which versions are there?');
    expect(third.reply.text).toBe(answer('versions'));
    expect(issues).toEqual(['invalid_topic', 'invalid_topic', 'malformed_arguments']);
    expect((await store.getRun(run.runId))?.phase).toBe('delivered');
  });

  it('never quotes a proposal that changes nothing', async () => {
    const send = setup(false);
    const v1 = run.versions![0]!.spec;
    server.push({
      toolCalls: [
        {
          name: PROPOSE_TOOL,
          input: {
            title: v1.title,
            summary: 'The same tool as delivered.',
            artifact_type: v1.artifactType,
            platforms: v1.platforms,
            features: v1.features,
            out_of_scope: [],
            complexity: 'small',
            recipe: v1.recipe,
            checks: [WEB_CHECK, CLI_CHECK],
          },
        },
      ],
    });
    const out = await send('What does it do?');
    expect(out.run.phase).toBe('delivered');
    expect(out.reply.text).toBe(answer('what_it_does'));
    expect(issues).toEqual(['no_change']);
  });

  it('keeps the question limit after delivery and then lets the model answer, not force a quote', async () => {
    const send = setup();
    server.push(
      { toolCalls: [{ name: ASK_TOOL, input: { question: 'Which change do you mean?' } }] },
      { toolCalls: [{ name: ASK_TOOL, input: { question: 'Which part exactly?' } }] },
      { toolCalls: [{ name: ANSWER_TOOL, input: { topic: 'unknown' } }] },
    );
    await send('Something about it');
    await send('That part');
    const third = await send('Whatever');
    expect(third.reply.text).toBe(answer('unknown'));
    expect(third.run.phase).toBe('delivered');
    expect(third.run.intake.questionsAsked).toBe(2);
    const last = offered(server.requests[2]?.body);
    expect(last.tools).toEqual([ANSWER_TOOL, PROPOSE_TOOL]);
    expect(last.choice).toBe('auto');
  });

  it('does not offer or accept answer_question before delivery', async () => {
    server.push({ toolCalls: [{ name: ANSWER_TOOL, input: { topic: 'checks' } }] });
    const talk = await conversation(
      new ModelIntake({
        model: makeClient(),
        catalog: recipeCatalog,
        requireRecipe: true,
        onModelIssue: (issue) => issues.push(issue),
      }),
    );
    const out = await talk.send('I need a tip calculator');
    expect(offered(server.requests[0]?.body).tools).not.toContain(ANSWER_TOOL);
    expect(issues).toEqual(['no_usable_tool_call']);
    expect(out.run.phase).toBe('drafting');
  });
});
