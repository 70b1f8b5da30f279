import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenAIModelClient } from '../../lib/ai/openai.ts';
import type { BuildSpec } from '../../lib/domain/build-spec.ts';
import { ModelIntake, PROPOSE_TOOL } from '../../lib/domain/intake/model-intake.ts';
import { OfflineIntake } from '../../lib/domain/intake/offline-intake.ts';
import { platformNames } from '../../lib/domain/intake/platforms.ts';
import { recipeCatalog } from '../../lib/domain/intake/recipe-catalog.ts';
import { mergeExclusions, OUT_OF_SCOPE, scopeReply } from '../../lib/domain/intake/scope.ts';
import { RECIPE_IDS } from '../../lib/domain/recipes.ts';
import { conversation } from '../support/intake-harness.ts';
import { type ScriptedModelServer, scriptedModelServer } from '../support/scripted-model-server.ts';

const budget: BuildSpec = {
  title: 'Budget planner',
  summary: 'Adds up monthly income and spending.',
  requestText: 'something to help me with my monthly budget',
  artifactType: 'both',
  platforms: ['windows-amd64', 'linux-amd64', 'darwin-arm64'],
  features: ['Enter one or more income amounts', 'Import an Excel or CSV export', 'Show what is left'],
  outOfScope: [...OUT_OF_SCOPE, 'Bank connections'],
  complexity: 'small',
};

describe('scope reply', () => {
  it('is a list: one line per feature and exclusion, in their own words, with friendly platform names', () => {
    const reply = scopeReply(budget);
    const lines = reply.split('\n');
    expect(lines[0]).toBe('Here is the scope: Budget planner, a web app and a downloadable program.');
    expect(lines).toContain('For: Windows (x86-64), macOS (Apple silicon), Linux (x86-64)');
    expect(lines).toContain('- Enter one or more income amounts');
    expect(lines).toContain('- Import an Excel or CSV export');
    expect(lines.indexOf('It will:')).toBeLessThan(lines.indexOf('Not included:'));
    expect(lines).toContain('- User accounts, servers or databases');
    expect(lines).toContain('- Bank connections');
    expect(reply).not.toMatch(/linux-amd64|windows-amd64|darwin-arm64|;/);
  });

  it('names no platforms for a web app', () => {
    expect(scopeReply({ ...budget, artifactType: 'web', platforms: [] })).not.toContain('For:');
  });

  it('orders platform names Windows, macOS, Linux', () => {
    expect(platformNames(['linux-arm64', 'darwin-amd64', 'windows-amd64', 'linux-amd64'])).toEqual([
      'Windows (x86-64)',
      'macOS (Intel)',
      'Linux (x86-64)',
      'Linux (ARM64)',
    ]);
  });

  it('states the price in the quote reply', async () => {
    const talk = await conversation(new OfflineIntake(recipeCatalog));
    const out = await talk.send('A tip calculator web app');
    expect(out.run.phase).toBe('quoted');
    expect(out.reply).toContain('Price: €49.00.');
    expect(out.reply).not.toContain('The price is shown with the scope');
    const bin = await conversation(new OfflineIntake(recipeCatalog));
    const program = await bin.send('A tip calculator program for Windows, Mac and Linux');
    // 5 platforms: the base price plus 3 additional platforms.
    expect(program.reply).toContain(`Price: €${(5900 + 3 * 500) / 100}.00.`);
    expect(program.reply).toContain(
      'For: Windows (x86-64), macOS (Apple silicon), macOS (Intel), Linux (x86-64), Linux (ARM64)',
    );
  });
});

describe('exclusions', () => {
  it('keeps the service’s own and drops a model’s repeat of one', () => {
    expect(
      mergeExclusions([
        'User accounts',
        'Databases',
        'Connection to the internet',
        'Source code',
        'Bank connections',
        'bank connections',
        'Printing',
      ]),
    ).toEqual([...OUT_OF_SCOPE, 'Bank connections', 'Printing']);
  });
});

describe('model intake brief', () => {
  let server: ScriptedModelServer;
  beforeAll(async () => {
    server = await scriptedModelServer();
  });
  afterAll(() => server.close());
  beforeEach(() => server.clear());

  const make = (requireRecipe: boolean) =>
    new ModelIntake({
      model: new OpenAIModelClient({ baseUrl: `${server.url}/v1`, model: 'gpt-test', maxRetries: 0 }),
      catalog: recipeCatalog,
      requireRecipe,
    });
  const proposal = {
    title: 'Budget planner',
    summary: 'Adds up monthly income and spending.',
    artifact_type: 'web',
    platforms: [],
    features: ['Enter one or more income amounts', 'Show what is left each month'],
    out_of_scope: ['User accounts', 'Bank connections'],
    complexity: 'small',
    checks: [
      {
        kind: 'web',
        id: 'left-over',
        title: 'An income of 2000 with 1500 spent leaves 500',
        steps: [
          { action: 'fill', label: 'Income', value: '2000' },
          { action: 'fill', label: 'Spent', value: '1500' },
        ],
        expect: [{ type: 'number', value: 500, near: 'Left' }],
      },
      {
        kind: 'web',
        id: 'nothing-spent',
        title: 'With nothing spent, all 2000 is left',
        steps: [{ action: 'fill', label: 'Income', value: '2000' }],
        expect: [{ type: 'number', value: 2000, near: 'Left' }],
      },
    ],
  };
  type Tool = {
    function: { name: string; parameters: { properties: Record<string, unknown>; required: string[] } };
  };
  const proposeTool = (): Tool['function'] => {
    const body = server.requests[0]?.body as { tools: Tool[] };
    const tool = body.tools.find((t) => t.function.name === PROPOSE_TOOL);
    if (!tool) throw new Error('no propose tool sent');
    return tool.function;
  };
  const systemPrompt = () => {
    const body = server.requests[0]?.body as { messages: { role: string; content: string }[] } | undefined;
    return String(body?.messages[0]?.content);
  };

  it('lists the catalog ids in the spec tool when a catalog applies', async () => {
    server.push({ toolCalls: [{ name: PROPOSE_TOOL, input: { ...proposal, recipe: 'tip-calculator' } }] });
    const talk = await conversation(make(true));
    await talk.send('A tip calculator web app');
    const tool = proposeTool();
    expect(tool.parameters.properties.recipe).toMatchObject({ enum: [...RECIPE_IDS] });
    expect(tool.parameters.required).toContain('recipe');
  });

  it('tells the model how the program answers, so its cli checks can pass (stdout and exit 0; error: on stderr, exit 1)', async () => {
    server.push({ toolCalls: [{ name: PROPOSE_TOOL, input: proposal }] });
    const talk = await conversation(make(false));
    await talk.send('A command line tool that converts numbers to Roman numerals, for Linux');
    const checks = (proposeTool().parameters.properties as Record<string, { description?: string }>).checks;
    expect(checks?.description).toContain('refused input exits 1 with "error: <message>" on stderr');
    expect(checks?.description).toMatch(
      /equals — whole output, line ends and surrounding blank space ignored/,
    );
  });

  it('offers no recipe without a catalog, and briefs platforms, exclusions, features and complexity', async () => {
    server.push({ toolCalls: [{ name: PROPOSE_TOOL, input: proposal }] });
    const talk = await conversation(make(false));
    const out = await talk.send('something to help me with my monthly budget, in the browser');
    const tool = proposeTool();
    expect(tool.parameters.properties.recipe).toBeUndefined();
    const prompt = systemPrompt();
    expect(prompt).toContain('Linux (Ubuntu, Debian, Fedora, …) → linux-amd64 + linux-arm64');
    expect(prompt).toContain('Raspberry Pi → linux-arm64');
    expect(prompt).toContain('darwin-arm64 = macOS (Apple silicon)');
    for (const e of OUT_OF_SCOPE) expect(prompt).toContain(e);
    expect(prompt).toContain('never repeat them');
    expect(prompt).toMatch(/"small" is the basic tool as asked.*a word counter/);
    expect(prompt).toMatch(/"medium" only when .*a history kept between visits/);
    expect(prompt).toContain('exactly as you write it');

    // The reply keeps the features as written and lists "User accounts…" once.
    expect(out.run.phase).toBe('quoted');
    expect(out.reply).toContain('\n- Enter one or more income amounts\n');
    expect(out.reply.match(/User accounts/g)).toHaveLength(1);
    expect(out.run.spec?.outOfScope).toEqual([...OUT_OF_SCOPE, 'Bank connections']);
    expect(out.reply).toContain('Price: €49.00.');
  });
});
