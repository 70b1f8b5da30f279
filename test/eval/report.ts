/**
 * The eval's figures and reports (pure: no I/O). `coderFigures` reads what a worker recorded in an
 * attempt's `result.json` defensively (the coder report's shape grows over time: steps and tokens
 * by kind may be missing); `summarize` computes the totals; `renderTable` / `renderMarkdown` print.
 */
import { renderTable as table } from '../../lib/cli/table.ts';

export type Outcome = 'verified' | 'failed' | 'not_quoted' | 'timeout' | 'error';

export interface TokenFigures {
  input: number;
  cached: number;
  output: number;
}

export interface CheckResult {
  title: string;
  passed: boolean;
  /** Internal: why a check failed (expected vs. got), as the gate recorded it. */
  detail?: string;
}

export interface RequestResult {
  id: string;
  kind: string;
  runId: string | null;
  outcome: Outcome;
  /** The internal reason (operator view) for anything but verified. */
  reason: string | null;
  questions: number;
  /** What was quoted: type, platforms, price in minor units. */
  quoted: { artifactType: string; platforms: string[]; amountCents: number; currency: string } | null;
  attempts: number;
  /** Model steps over all attempts; null when no attempt recorded any. */
  steps: number | null;
  tokens: TokenFigures | null;
  /** The acceptance checks' results of the last verification, when the gate reported any. */
  checks: CheckResult[] | null;
  /** Run created → verified or failed (or given up). */
  wallSeconds: number;
  /** Approval → verified or failed. */
  buildSeconds: number | null;
}

export interface EvalTotals {
  requests: number;
  verified: number;
  /** verified / requests (0–1). */
  verifiedRate: number;
  /** Median wall time of the verified requests (run created → artifact verified). */
  medianSecondsToVerified: number | null;
  attempts: number;
  steps: number;
  tokens: TokenFigures;
}

export interface EvalReport {
  startedAt: string;
  finishedAt: string;
  /** Which intake and coder ran (provider and model names, never keys). */
  config: Record<string, string>;
  results: RequestResult[];
  totals: EvalTotals;
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const first = (o: Record<string, unknown> | undefined, names: string[]): number | undefined => {
  for (const n of names) {
    const v = num(o?.[n]);
    if (v !== undefined) return v;
  }
  return undefined;
};

/**
 * Steps and tokens from one attempt's `result.json`. Accepts the coder report under `coder` or
 * `report` (or the figures at the top level), tokens under `tokens` or `usage`, each kind under
 * its usual names (`input`/`inputTokens`, `cachedInput`/`cachedInputTokens`/`cacheReadInputTokens`/
 * `cached`, `output`/`outputTokens`). Missing figures stay undefined; nothing is guessed.
 */
export function coderFigures(result: unknown): { steps?: number; tokens?: TokenFigures } {
  const top = obj(result);
  const report = obj(top?.coder) ?? obj(top?.report) ?? top;
  const steps = first(report, ['steps', 'modelSteps']);
  const t = obj(report?.tokens) ?? obj(report?.usage);
  const input = first(t, ['input', 'inputTokens', 'uncachedInput']);
  const output = first(t, ['output', 'outputTokens']);
  const cached = first(t, ['cachedInput', 'cachedInputTokens', 'cacheReadInputTokens', 'cached']);
  const out: { steps?: number; tokens?: TokenFigures } = {};
  if (steps !== undefined) out.steps = steps;
  if (input !== undefined || output !== undefined)
    out.tokens = { input: input ?? 0, cached: cached ?? 0, output: output ?? 0 };
  return out;
}

/** Adds up the figures of several attempts; null when none had any. */
export function sumFigures(per: { steps?: number; tokens?: TokenFigures }[]): {
  steps: number | null;
  tokens: TokenFigures | null;
} {
  const withSteps = per.filter((p) => p.steps !== undefined);
  const withTokens = per.filter((p) => p.tokens);
  return {
    steps: withSteps.length ? withSteps.reduce((s, p) => s + (p.steps ?? 0), 0) : null,
    tokens: withTokens.length ? addTokens(withTokens.map((p) => p.tokens!)) : null,
  };
}

function addTokens(list: TokenFigures[]): TokenFigures {
  return list.reduce(
    (a, t) => ({ input: a.input + t.input, cached: a.cached + t.cached, output: a.output + t.output }),
    {
      input: 0,
      cached: 0,
      output: 0,
    },
  );
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(results: RequestResult[]): EvalTotals {
  const verified = results.filter((r) => r.outcome === 'verified');
  return {
    requests: results.length,
    verified: verified.length,
    verifiedRate: results.length ? verified.length / results.length : 0,
    medianSecondsToVerified: median(verified.map((r) => r.wallSeconds)),
    attempts: results.reduce((s, r) => s + r.attempts, 0),
    steps: results.reduce((s, r) => s + (r.steps ?? 0), 0),
    tokens: addTokens(results.flatMap((r) => (r.tokens ? [r.tokens] : []))),
  };
}

const secs = (s: number | null) => (s === null ? '' : s.toFixed(1));
const checksCell = (c: CheckResult[] | null) =>
  c === null ? '' : `${c.filter((x) => x.passed).length}/${c.length}`;
const tokenCell = (t: TokenFigures | null, k: keyof TokenFigures) => (t ? t[k] : '');

/** The per-request table plus the totals, as the eval prints it. */
export function renderTable(report: EvalReport): string {
  const rows = table(report.results, [
    { header: 'ID', value: (r) => r.id },
    { header: 'KIND', value: (r) => r.kind },
    { header: 'OUTCOME', value: (r) => r.outcome },
    { header: 'ATTEMPTS', value: (r) => r.attempts, align: 'right' },
    { header: 'STEPS', value: (r) => r.steps ?? '', align: 'right' },
    { header: 'IN', value: (r) => tokenCell(r.tokens, 'input'), align: 'right' },
    { header: 'CACHED', value: (r) => tokenCell(r.tokens, 'cached'), align: 'right' },
    { header: 'OUT', value: (r) => tokenCell(r.tokens, 'output'), align: 'right' },
    { header: 'CHECKS', value: (r) => checksCell(r.checks) },
    { header: 'SECONDS', value: (r) => secs(r.wallSeconds), align: 'right' },
    { header: 'REASON', value: (r) => r.reason ?? '', maxWidth: 80 },
  ]);
  return `${rows}\n\n${totalsLine(report.totals)}`;
}

function totalsLine(t: EvalTotals): string {
  return (
    `verified ${t.verified}/${t.requests} (${(t.verifiedRate * 100).toFixed(0)} %), ` +
    `median time to a verified artifact ${t.medianSecondsToVerified === null ? 'n/a' : `${t.medianSecondsToVerified.toFixed(1)} s`}, ` +
    `attempts ${t.attempts}, steps ${t.steps}, tokens in ${t.tokens.input} / cached ${t.tokens.cached} / out ${t.tokens.output}`
  );
}

const md = (s: string) => s.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');

export function renderMarkdown(report: EvalReport): string {
  const config = Object.entries(report.config)
    .map(([k, v]) => `${k} \`${md(v)}\``)
    .join(', ');
  const lines = [
    '# Eval report',
    '',
    `${report.startedAt} – ${report.finishedAt}; ${config}`,
    '',
    `**${totalsLine(report.totals)}**`,
    '',
    '| id | kind | outcome | attempts | steps | tokens in | cached | out | checks | seconds | reason |',
    '|---|---|---|--:|--:|--:|--:|--:|---|--:|---|',
    ...report.results.map(
      (r) =>
        `| ${md(r.id)} | ${r.kind} | ${r.outcome} | ${r.attempts} | ${r.steps ?? ''} | ${tokenCell(r.tokens, 'input')} | ` +
        `${tokenCell(r.tokens, 'cached')} | ${tokenCell(r.tokens, 'output')} | ${checksCell(r.checks)} | ${secs(r.wallSeconds)} | ${md(r.reason ?? '').slice(0, 300)} |`,
    ),
  ];
  const withChecks = report.results.filter((r) => r.checks?.length);
  if (withChecks.length) {
    lines.push('', '## Acceptance checks', '');
    for (const r of withChecks)
      for (const c of r.checks!)
        lines.push(`- ${md(r.id)}: ${c.passed ? 'passed' : 'FAILED'} — ${md(c.title)}`);
  }
  return `${lines.join('\n')}\n`;
}
