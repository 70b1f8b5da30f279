/**
 * `npm run eval`: held-out requests end to end through the public API on the local stack, against
 * whatever intake and coder are configured (INTAKE_PROVIDER, CODER, OPENAI_BASE_URL, …; see the
 * README "Eval"). Prints a table, writes `test-output/eval/report.json` and `report.md`.
 *
 *   npm run eval -- [--only id[,id]] [--limit N] [--concurrency N] [--requests file]
 *                   [--out dir] [--data-dir dir] [--timeout-minutes N]
 *
 * Without `--data-dir` it starts its own stack (temp data dir, ephemeral ports, the shared test Go
 * cache) and stops it at the end; with it, it uses the stack `npm start` runs on that data dir.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { operatorActor } from '../../lib/cli/main.ts';
import { connect, resolveTarget } from '../../lib/cli/target.ts';
import { startTestStack, type TestStack } from '../integration/harness.ts';
import { REPO_ROOT, sharedGoCache } from '../integration/pipeline-helpers.ts';
import { type EvalReport, renderMarkdown, renderTable, summarize } from './report.ts';
import { EvalFileSchema, type EvalRequest, runAll } from './runner.ts';

export interface EvalOptions {
  only: string[];
  limit: number | undefined;
  concurrency: number;
  requestsFile: string;
  outDir: string;
  dataDir: string | undefined;
  timeoutMinutes: number;
}

export class EvalUsageError extends Error {}

const positive = (name: string, raw: string | undefined, fallback?: number): number | undefined => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1)
    throw new EvalUsageError(`--${name} must be a positive integer`);
  return n;
};

export function parseEvalArgs(argv: string[]): EvalOptions {
  let values: Record<string, string | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        only: { type: 'string', multiple: true },
        limit: { type: 'string' },
        concurrency: { type: 'string' },
        requests: { type: 'string' },
        out: { type: 'string' },
        'data-dir': { type: 'string' },
        'timeout-minutes': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new EvalUsageError((err as Error).message);
  }
  const only = ((values.only as string[] | undefined) ?? []).flatMap((o) => o.split(',')).filter(Boolean);
  return {
    only,
    limit: positive('limit', values.limit as string | undefined),
    concurrency: positive('concurrency', values.concurrency as string | undefined, 1)!,
    requestsFile: resolve(
      (values.requests as string | undefined) ?? join(REPO_ROOT, 'test/eval/requests.json'),
    ),
    outDir: resolve((values.out as string | undefined) ?? join(REPO_ROOT, 'test-output/eval')),
    dataDir: values['data-dir'] ? resolve(values['data-dir'] as string) : undefined,
    timeoutMinutes: positive('timeout-minutes', values['timeout-minutes'] as string | undefined, 30)!,
  };
}

/** The requests of the file, narrowed by `--only` (unknown ids are an error) and `--limit`. */
export function selectRequests(opts: Pick<EvalOptions, 'only' | 'limit' | 'requestsFile'>): EvalRequest[] {
  const file = EvalFileSchema.parse(JSON.parse(readFileSync(opts.requestsFile, 'utf8')));
  let list = file.requests;
  if (opts.only.length) {
    const unknown = opts.only.filter((id) => !list.some((r) => r.id === id));
    if (unknown.length) throw new EvalUsageError(`unknown request id(s): ${unknown.join(', ')}`);
    list = list.filter((r) => opts.only.includes(r.id));
  }
  return opts.limit ? list.slice(0, opts.limit) : list;
}

/** What ran: provider and model names only (never keys; the base URL without credentials or query). */
export function configSummary(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {
    intake: env.INTAKE_PROVIDER || 'offline',
    coder: env.CODER || 'offline',
  };
  if (env.OPENAI_MODEL) out.openai_model = env.OPENAI_MODEL;
  if (env.OPENAI_BASE_URL) {
    try {
      const u = new URL(env.OPENAI_BASE_URL);
      out.openai_base_url = `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      out.openai_base_url = '(invalid)';
    }
  }
  if (env.BEDROCK_MODEL_ID) out.bedrock_model = env.BEDROCK_MODEL_ID;
  return out;
}

export interface EvalRun {
  report: EvalReport;
  table: string;
  jsonPath: string;
  markdownPath: string;
}

/** Runs the eval: starts a stack unless `--data-dir` names a running one, runs, writes the reports. */
export async function runEval(
  opts: EvalOptions,
  io: { say: (line: string) => void; env?: NodeJS.ProcessEnv } = {
    say: () => {},
  },
): Promise<EvalRun> {
  const env = io.env ?? process.env;
  const requests = selectRequests(opts);
  const startedAt = new Date().toISOString();
  let stack: TestStack | undefined;
  try {
    let dataDir = opts.dataDir;
    if (!dataDir) {
      io.say(`starting a local stack for ${requests.length} request(s)…`);
      stack = await startTestStack({
        env: { GOCACHE: sharedGoCache(), LOG_LEVEL: 'info' },
        startTimeoutMs: 120_000,
      });
      dataDir = stack.dataDir;
    }
    const target = await resolveTarget({ env, cwd: process.cwd(), dataDir });
    const conn = connect(target, process.env);
    const apiUrl = target.kind === 'local' ? target.info!.apiUrl : '';
    const results = await runAll(
      {
        apiUrl,
        conn,
        dataDir,
        actor: operatorActor(env),
        buildTimeoutMs: opts.timeoutMinutes * 60_000,
        say: io.say,
      },
      requests,
      opts.concurrency,
    );
    const report: EvalReport = {
      startedAt,
      finishedAt: new Date().toISOString(),
      config: configSummary(env),
      results,
      totals: summarize(results),
    };
    mkdirSync(opts.outDir, { recursive: true });
    const jsonPath = join(opts.outDir, 'report.json');
    const markdownPath = join(opts.outDir, 'report.md');
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(markdownPath, renderMarkdown(report));
    return { report, table: renderTable(report), jsonPath, markdownPath };
  } finally {
    await stack?.dispose();
  }
}

async function main(): Promise<void> {
  let opts: EvalOptions;
  try {
    opts = parseEvalArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const out = await runEval(opts, { say });
  process.stdout.write(`${out.table}\n\nReports: ${out.jsonPath}, ${out.markdownPath}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(REPO_ROOT, 'test/eval/run.ts')) {
  main().catch((err: unknown) => {
    if (err instanceof EvalUsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`eval failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
