import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenAIModelClient } from '../../lib/ai/openai.ts';
import { AcceptanceCheckSchema } from '../../lib/domain/acceptance.ts';
import type { ArtifactType } from '../../lib/domain/build-spec.ts';
import type { CatalogMatch, ToolCatalog } from '../../lib/domain/intake/engine.ts';
import { ASK_TOOL, CHECK_QUESTION, ModelIntake, PROPOSE_TOOL } from '../../lib/domain/intake/model-intake.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { conversation } from '../support/intake-harness.ts';
import { type ScriptedModelServer, scriptedModelServer } from '../support/scripted-model-server.ts';

/** The model intake's acceptance checks (issue 9 §2), over the OpenAI-compatible wire format. */

let server: ScriptedModelServer;
beforeAll(async () => {
  server = await scriptedModelServer();
});
afterAll(() => server.close());
beforeEach(() => server.clear());

const webCheck = (id: string, title: string, value: string, shown: string) => ({
  kind: 'web',
  id,
  title,
  steps: [
    { action: 'fill', label: 'Text to reverse', value },
    { action: 'click', role: 'button', name: 'Reverse' },
  ],
  expect: [{ type: 'text', text: shown }],
});
const cliCheck = (id: string, title: string, arg: string, shown: string) => ({
  kind: 'cli',
  id,
  title,
  args: [arg],
  expect: [{ op: 'equals', value: `${shown}\n` }],
});
const checkA = webCheck('reverse-hello', 'hello becomes olleh', 'hello', 'olleh');
const checkB = webCheck('reverse-words', 'abc def becomes fed cba', 'abc def', 'fed cba');
const cliA = cliCheck('cli-hello', 'The program turns hello into olleh', 'hello', 'olleh');

const proposal = (type: ArtifactType, checks: unknown[]) => ({
  title: 'Text reverser',
  summary: 'Reverses the text you type.',
  artifact_type: type,
  platforms: type === 'web' ? [] : ['linux-amd64'],
  features: ['Reverse the characters of a text'],
  out_of_scope: [],
  complexity: 'small',
  checks,
});
const propose = (type: ArtifactType, checks: unknown[]) => ({
  toolCalls: [{ name: PROPOSE_TOOL, input: proposal(type, checks) }],
});

const issues: { issue: string; detail?: Record<string, unknown> }[] = [];
const make = (catalog: ToolCatalog = recipeCatalog, requireRecipe = false) =>
  new ModelIntake({
    model: new OpenAIModelClient({ baseUrl: `${server.url}/v1`, model: 'gpt-test', maxRetries: 0 }),
    catalog,
    requireRecipe,
    onModelIssue: (issue, detail) => issues.push({ issue, ...(detail ? { detail } : {}) }),
  });
beforeEach(() => {
  issues.length = 0;
});

type Tool = {
  function: { name: string; parameters: { properties: Record<string, unknown>; required: string[] } };
};
const proposeTool = (i = 0) => {
  const body = server.requests[i]?.body as { tools: Tool[] } | undefined;
  return body?.tools.find((t) => t.function.name === PROPOSE_TOOL)?.function;
};

describe('acceptance checks in the model intake', () => {
  it('describes the check kinds in the spec tool and keeps valid checks, listing their titles', async () => {
    server.push(propose('web', [checkA, checkB]));
    const talk = await conversation(make());
    const out = await talk.send('A web page that reverses text');
    expect(out.run.phase).toBe('quoted');
    expect(out.run.spec?.checks).toEqual([checkA, checkB].map((c) => AcceptanceCheckSchema.parse(c)));
    const lines = out.reply.split('\n');
    const at = lines.indexOf('How we will check it:');
    expect(at).toBeGreaterThan(lines.indexOf('Not included:'));
    expect(lines.slice(at + 1, at + 3)).toEqual(['- hello becomes olleh', '- abc def becomes fed cba']);
    expect(issues).toEqual([]);

    const tool = proposeTool();
    expect(tool?.parameters.required).toContain('checks');
    const checks = JSON.stringify(tool?.parameters.properties.checks);
    for (const word of ['"cli"', '"web"', '"fill"', '"click"', '"wait_for_text"', '"not_contains"', 'anyOf'])
      expect(checks).toContain(word);
    expect(checks).not.toContain('oneOf');
    expect(checks).toMatch(/Never CSS selectors/);
  });

  it('drops an invalid check with a logged reason and quotes with the valid ones', async () => {
    const selector = {
      ...webCheck('sneaky', 'Uses a selector', 'x', 'x'),
      steps: [{ action: 'fill', label: '#text', value: 'x' }],
    };
    const script = { ...checkB, id: 'script', title: 'Runs <script>alert(1)</script>' };
    const cliOnWeb = cliA;
    server.push(propose('web', [checkA, selector, checkB, script, cliOnWeb]));
    const talk = await conversation(make());
    const out = await talk.send('A web page that reverses text');
    expect(out.run.phase).toBe('quoted');
    expect(out.run.spec?.checks?.map((c) => c.id)).toEqual(['reverse-hello', 'reverse-words']);
    const dropped = issues.filter((i) => i.issue === 'check_dropped').map((i) => String(i.detail?.reason));
    expect(dropped).toHaveLength(3);
    expect(dropped[0]).toMatch(/^#1 \(sneaky\): .*selector/);
    expect(dropped[1]).toMatch(/^#3 \(script\): .*(markup|script)/);
    expect(dropped[2]).toBe('cli-hello: not for web');
    expect(out.reply).not.toMatch(/selector|script|cli-hello/i);
  });

  it('with fewer than 2 valid checks asks the visitor for an example once, then quotes', async () => {
    server.push(propose('web', [checkA]), propose('web', [checkA, checkB]));
    const talk = await conversation(make());
    const first = await talk.send('A web page that reverses text');
    expect(first.reply).toBe(CHECK_QUESTION);
    expect(first.run.phase).toBe('drafting');
    expect(first.run.intake).toMatchObject({ questionsAsked: 1, lastQuestion: CHECK_QUESTION });
    expect(issues.map((i) => i.issue)).toEqual(['too_few_checks']);
    const second = await talk.send('hello should become olleh');
    expect(second.run.phase).toBe('quoted');
    expect(second.run.spec?.checks).toHaveLength(2);
    expect(JSON.stringify(server.requests[1]?.body)).toContain(CHECK_QUESTION.replace(/"/g, '\\"'));
  });

  it('falls back to the deterministic intake when the checks stay too few', async () => {
    server.push(propose('web', []), propose('web', [checkA]));
    const talk = await conversation(make());
    await talk.send('A web page that reverses text');
    const out = await talk.send('no idea');
    // The second try has too few as well; the example question was already asked.
    expect(issues.map((i) => i.issue)).toEqual(['too_few_checks', 'too_few_checks']);
    expect(out.run.phase).toBe('drafting');
    expect(out.reply).not.toBe(CHECK_QUESTION);
    expect(out.run.spec).toBeUndefined();
  });

  it('asks nothing more when no question is left: falls back', async () => {
    server.push(
      { toolCalls: [{ name: ASK_TOOL, input: { question: 'What should it do?' } }] },
      { toolCalls: [{ name: ASK_TOOL, input: { question: 'Web or program?' } }] },
      propose('web', [checkA]),
    );
    const talk = await conversation(make());
    await talk.send('hi');
    await talk.send('reverse text');
    const out = await talk.send('in the browser');
    expect(out.run.intake.questionsAsked).toBe(2);
    expect(out.reply).not.toBe(CHECK_QUESTION);
    expect(issues.map((i) => i.issue)).toEqual(['too_few_checks']);
  });

  it('needs a check of each kind for both', async () => {
    server.push(propose('both', [checkA, checkB]), propose('both', [checkA, cliA]));
    const talk = await conversation(make());
    const first = await talk.send('A text reverser, web and a program for Linux');
    expect(first.reply).toBe(CHECK_QUESTION);
    const second = await talk.send('hello gives olleh');
    expect(second.run.phase).toBe('quoted');
    expect(second.run.spec?.checks?.map((c) => c.kind)).toEqual(['web', 'cli']);
  });

  it('sends the current checks with a change request', async () => {
    server.push(propose('web', [checkA, checkB]), propose('web', [checkA, checkB]));
    const talk = await conversation(make());
    await talk.send('A web page that reverses text');
    await talk.send('call it Mirror');
    const payload = JSON.stringify(server.requests[1]?.body);
    expect(payload).toContain('current_scope');
    expect(payload).toContain('reverse-words');
  });

  it('with the closed catalog asks for no checks and uses the recipe’s own for the artifact type', async () => {
    const recipeCli = AcceptanceCheckSchema.parse(
      cliCheck('tip-100', 'A 100 bill gets a 15 tip', '100', '15'),
    );
    const recipeCli2 = AcceptanceCheckSchema.parse(
      cliCheck('tip-50', 'A 50 bill gets a 7.50 tip', '50', '7.50'),
    );
    const recipeWeb = AcceptanceCheckSchema.parse(
      webCheck('tip-web', 'A 100 bill shows a 15 tip', '100', '15'),
    );
    const withChecks = (m: CatalogMatch): CatalogMatch =>
      m.id === 'tip-calculator' ? { ...m, checks: [recipeCli, recipeWeb, recipeCli2] } : m;
    const catalog: ToolCatalog = {
      ...recipeCatalog,
      match: (t) => {
        const m = recipeCatalog.match(t);
        return m && withChecks(m);
      },
      examples: () => recipeCatalog.examples(),
      entries: () => (recipeCatalog.entries?.() ?? []).map(withChecks),
    };
    server.push({
      toolCalls: [
        {
          name: PROPOSE_TOOL,
          input: {
            ...proposal('binary', [checkA]),
            title: 'Tip calculator',
            summary: 'Works out the tip.',
            recipe: 'tip-calculator',
          },
        },
      ],
    });
    const talk = await conversation(make(catalog, true));
    const out = await talk.send('A tip calculator program for Linux');
    expect(out.run.phase).toBe('quoted');
    expect(out.run.spec?.checks).toEqual([recipeCli, recipeCli2]);
    expect(proposeTool()?.parameters.properties.checks).toBeUndefined();
    expect(issues).toEqual([]);
  });
});
