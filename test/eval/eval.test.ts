import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROPOSE_TOOL } from '../../lib/domain/intake/model-intake.ts';
import { REPO_ROOT } from '../integration/pipeline-helpers.ts';
import { type ScriptedModelServer, scriptedModelServer } from '../support/scripted-model-server.ts';
import type { EvalReport } from './report.ts';
import { EvalUsageError, parseEvalArgs, selectRequests } from './run.ts';

const run = promisify(execFile);

/**
 * `npm run eval` end to end on the local stack with the scripted model server as the configured
 * model (the OpenAI-compatible wire format, for the intake and the coder): one request is built
 * and verified, one fails in the coder and reports the internal reason.
 */

const caseChanger = {
  title: 'Case changer',
  summary: 'Changes the letter case of a text.',
  artifact_type: 'web',
  platforms: [],
  features: ['Change a text to upper case or lower case'],
  out_of_scope: [],
  complexity: 'small',
  // Checks the template's own letter-case page passes (the scripted coder keeps it).
  checks: [
    {
      kind: 'web',
      id: 'upper-case',
      title: 'hello world in upper case is HELLO WORLD',
      steps: [
        { action: 'fill', label: 'Text to convert', value: 'hello world' },
        { action: 'select', label: 'Letter case', option: 'UPPER CASE' },
      ],
      expect: [{ type: 'text', text: 'HELLO WORLD' }],
    },
    {
      kind: 'web',
      id: 'lower-case',
      title: 'Good Morning in lower case is good morning',
      steps: [
        { action: 'fill', label: 'Text to convert', value: 'Good Morning' },
        { action: 'select', label: 'Letter case', option: 'lower case' },
      ],
      expect: [{ type: 'text', text: 'good morning' }],
    },
  ],
};
const appJson = `${JSON.stringify(
  {
    name: 'case-changer',
    title: 'Case changer',
    description: 'Changes the letter case of a text.',
    version: '0.1.0',
    artifact_type: 'web',
  },
  null,
  2,
)}\n`;

let server: ScriptedModelServer;
let dir: string;
beforeAll(async () => {
  server = await scriptedModelServer();
  dir = mkdtempSync(join(tmpdir(), 'busdk-eval-test-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('eval options', () => {
  it('parses --only, --limit and --concurrency and refuses bad values', () => {
    const o = parseEvalArgs(['--only', 'pomodoro,dice-roller', '--limit', '1', '--concurrency', '2']);
    expect(o).toMatchObject({ only: ['pomodoro', 'dice-roller'], limit: 1, concurrency: 2 });
    expect(selectRequests(o).map((r) => r.id)).toEqual(['pomodoro']);
    expect(() => parseEvalArgs(['--limit', '0'])).toThrow(EvalUsageError);
    expect(() => parseEvalArgs(['--frobnicate'])).toThrow(EvalUsageError);
    expect(() => selectRequests(parseEvalArgs(['--only', 'nope']))).toThrow(/unknown request id/);
  });

  it('ships 20 held-out requests: web, binary and both, none from the catalog', () => {
    const all = selectRequests(parseEvalArgs([]));
    expect(all).toHaveLength(20);
    expect(new Set(all.map((r) => r.kind))).toEqual(new Set(['web', 'binary', 'both']));
    expect(all.every((r) => r.answers.length >= 1)).toBe(true);
  });
});

describe('npm run eval with the scripted model', () => {
  it('runs requests end to end, prints the table and writes the JSON and Markdown reports', async () => {
    const requestsFile = join(dir, 'requests.json');
    writeFileSync(
      requestsFile,
      JSON.stringify({
        requests: [
          {
            id: 'case-changer',
            kind: 'web',
            request: 'Something that changes text to upper case',
            answers: ['In the browser please'],
          },
          { id: 'broken-coder', kind: 'web', request: 'A case changer web page', answers: [] },
        ],
      }),
    );
    server.push(
      // case-changer: one question, then the spec; the coder writes app.json, checks and finishes.
      {
        toolCalls: [
          { name: 'ask_clarifying_question', input: { question: 'In the browser or as a program?' } },
        ],
      },
      { toolCalls: [{ name: PROPOSE_TOOL, input: caseChanger }] },
      {
        toolCalls: [{ name: 'write_file', input: { path: 'app.json', content: appJson } }],
        usage: { inputTokens: 1200, outputTokens: 300 },
      },
      {
        toolCalls: [
          { name: 'run_tests', input: {} },
          { name: 'run_build', input: {} },
          { name: 'finish', input: { summary: 'The case changer is ready.' } },
        ],
        usage: { inputTokens: 1500, outputTokens: 40 },
      },
      // broken-coder: quoted at once; the coder's model call is refused.
      { toolCalls: [{ name: PROPOSE_TOOL, input: caseChanger }] },
      { error: { status: 400, message: 'scripted refusal', type: 'invalid_request_error' } },
    );
    // `npm run eval` as a process, the scripted server as the configured model.
    const outDir = join(dir, 'out');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      INTAKE_PROVIDER: 'openai',
      CODER: 'openai',
      OPENAI_BASE_URL: `${server.url}/v1`,
      OPENAI_MODEL: 'scripted',
      OPENAI_API_KEY: 'sk-test',
      MAX_ATTEMPTS: '1',
    };
    const proc = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/eval/run.ts',
        '--requests',
        requestsFile,
        '--out',
        outDir,
        '--timeout-minutes',
        '3',
      ],
      { cwd: REPO_ROOT, env, timeout: 230_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const lines = proc.stderr.split('\n');
    const out = {
      report: JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as EvalReport,
      table: proc.stdout,
      markdownPath: join(outDir, 'report.md'),
    };
    const [ok, broken] = out.report.results;
    expect(ok, lines.join('\n')).toMatchObject({
      id: 'case-changer',
      outcome: 'verified',
      questions: 1,
      attempts: 1,
      reason: null,
      quoted: { artifactType: 'web', platforms: [], amountCents: 4900, currency: 'eur' },
    });
    expect(ok?.runId).toMatch(/^run_/);
    expect(ok?.wallSeconds).toBeGreaterThan(0);
    // The figures the eval exists for, from the attempt's coder report and the gate's receipt:
    // two model steps, the scripted usage summed, both approved checks passed.
    expect(ok?.steps).toBe(2);
    expect(ok?.tokens).toEqual({ input: 2700, cached: 0, output: 340 });
    expect(ok?.checks).toEqual([
      expect.objectContaining({ title: caseChanger.checks[0]!.title, passed: true }),
      expect.objectContaining({ title: caseChanger.checks[1]!.title, passed: true }),
    ]);
    expect(broken).toMatchObject({ id: 'broken-coder', outcome: 'failed', attempts: 1, questions: 0 });
    // The internal reason from the operator view, not the visitor's sentence.
    expect(broken?.reason).toMatch(/model|coder/i);
    expect(out.report.totals).toMatchObject({ requests: 2, verified: 1, verifiedRate: 0.5, attempts: 2 });
    expect(out.report.totals.medianSecondsToVerified).toBe(ok?.wallSeconds);
    expect(out.report.config).toMatchObject({ intake: 'openai', coder: 'openai', openai_model: 'scripted' });
    expect(JSON.stringify(out.report)).not.toContain('sk-test');
    expect(server.pending()).toBe(0);

    // The printed table and the two reports.
    expect(out.table).toMatch(
      /^ID\s+KIND\s+OUTCOME\s+ATTEMPTS\s+STEPS\s+IN\s+CACHED\s+OUT\s+CHECKS\s+SECONDS\s+REASON/,
    );
    expect(out.table).toMatch(/case-changer\s+web\s+verified\s+1/);
    expect(out.table).toMatch(/broken-coder\s+web\s+failed\s+1/);
    expect(out.table).toContain('verified 1/2 (50 %)');
    expect(out.table).toContain(`Reports: ${join(outDir, 'report.json')}, ${out.markdownPath}`);
    const md = readFileSync(out.markdownPath, 'utf8');
    expect(md).toContain('| case-changer | web | verified | 1 |');
    expect(md).toContain('**verified 1/2 (50 %)');
  }, 240_000);
});
