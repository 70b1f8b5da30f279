import { type CliCheck, type CliExpectation, clipDetail } from './acceptance.ts';

/**
 * Pure evaluation of acceptance expectations on captured output: shared by the gate's runners and
 * the coder's self-check so both judge a result the same way. Each function returns the problems
 * found (internal detail: expected vs. got, truncated); an empty list is a pass.
 */

/** Every number a text shows, read leniently: `6.21`, `1,234.56`, `1.234,56`, `38,33`, `-4`. */
export function numbersIn(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/[-−]?\d+(?:[.,\u00a0' ]\d+)*/g)) {
    const raw = m[0].replace('−', '-');
    for (const n of readNumber(raw)) out.push(n);
  }
  return out;
}

/** The readings of one numeric token (a token like `1,234` can be 1234 or 1.234). */
function readNumber(raw: string): number[] {
  const neg = raw.startsWith('-');
  const body = neg ? raw.slice(1) : raw;
  const sign = neg ? -1 : 1;
  const groups = body.split(/[.,\u00a0' ]/);
  const seps = body.replace(/\d/g, '');
  if (seps.length === 0) return [sign * Number(body)];
  const readings = new Set<number>();
  const last = Math.max(body.lastIndexOf('.'), body.lastIndexOf(','));
  const lastSep = body[last];
  // The last separator as the decimal point, the others as thousands separators.
  if (lastSep === '.' || lastSep === ',') {
    const intPart = body.slice(0, last).replace(/[.,\u00a0' ]/g, '');
    const frac = body.slice(last + 1);
    readings.add(sign * Number(`${intPart}.${frac}`));
  }
  // Every separator a thousands separator (groups of three after the first).
  if (groups.slice(1).every((g) => g.length === 3)) readings.add(sign * Number(groups.join('')));
  // Spaces and apostrophes never separate decimals: also read the parts on their own.
  if (/[\u00a0' ]/.test(seps))
    for (const part of body.split(/[\u00a0' ]/)) readings.add(sign * Number(part.replace(',', '.')));
  return [...readings].filter(Number.isFinite);
}

/** Whether a number within `tolerance` of `value` is shown (on a line containing `near`, if given). */
export function numberShown(
  text: string,
  expected: { value: number; tolerance: number; near?: string },
): { ok: boolean; seen: number[] } {
  const tol = expected.tolerance + Math.abs(expected.value) * 1e-9;
  const scopes = expected.near
    ? text.split(/\r?\n/).filter((l) => l.toLowerCase().includes(expected.near?.toLowerCase() ?? ''))
    : [text];
  const seen = scopes.flatMap(numbersIn);
  return { ok: seen.some((n) => Math.abs(n - expected.value) <= tol), seen };
}

const norm = (s: string) =>
  s
    .replace(/\r\n/g, '\n')
    .replace(/[ \t]+$/gm, '')
    .trim();
const show = (s: string) => JSON.stringify(clipDetail(s, 200));

/** One expectation on a text (a stream of a cli check, or a page's visible text for `contains`). */
export function textProblems(exp: CliExpectation, text: string): string[] {
  const where = 'stream' in exp ? exp.stream : 'output';
  switch (exp.op) {
    case 'contains':
    case 'not_contains': {
      const hay = exp.ignoreCase ? text.toLowerCase() : text;
      const needle = exp.ignoreCase ? exp.value.toLowerCase() : exp.value;
      const has = hay.includes(needle);
      if (exp.op === 'contains' && !has)
        return [`${where} should contain ${show(exp.value)}; got ${show(text)}`];
      if (exp.op === 'not_contains' && has)
        return [`${where} should not contain ${show(exp.value)}; got ${show(text)}`];
      return [];
    }
    case 'equals': {
      const a = exp.ignoreCase ? norm(text).toLowerCase() : norm(text);
      const b = exp.ignoreCase ? norm(exp.value).toLowerCase() : norm(exp.value);
      return a === b ? [] : [`${where} should be ${show(exp.value)}; got ${show(text)}`];
    }
    case 'matches': {
      // Bounded input: the pattern was screened (no nested quantifiers, no back-references).
      const ok = new RegExp(exp.pattern, 'u').test(text.slice(0, 64 * 1024));
      return ok ? [] : [`${where} should match /${exp.pattern}/; got ${show(text)}`];
    }
    case 'number': {
      const r = numberShown(text, exp);
      if (r.ok) return [];
      const near = exp.near ? ` on a line with ${show(exp.near)}` : '';
      return [
        `${where} should show ${exp.value} (±${exp.tolerance})${near}; saw ${r.seen.slice(0, 8).join(', ') || 'no number'} in ${show(text)}`,
      ];
    }
  }
}

/** What one run of a cli check produced. */
export interface CliRunOutput {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the process could not be run at all. */
  error?: string;
}

/** The problems of one cli check's run; empty = passed. */
export function cliCheckProblems(check: CliCheck, run: CliRunOutput): string[] {
  if (run.error) return [`could not run: ${clipDetail(run.error, 200)}`];
  if (run.timedOut) return [`timed out after ${check.timeoutMs} ms`];
  const problems: string[] = [];
  if (run.exitCode !== check.exitCode) {
    problems.push(
      `exit code should be ${check.exitCode}; got ${run.exitCode ?? 'none'} (stderr ${show(run.stderr)})`,
    );
  }
  for (const exp of check.expect) {
    problems.push(...textProblems(exp, exp.stream === 'stderr' ? run.stderr : run.stdout));
  }
  return problems;
}
