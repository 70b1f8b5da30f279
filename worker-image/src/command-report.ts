/**
 * What a test or build command's output says, for the coder's tool results and the repair
 * loop's failure reason: the failing Go test names, the first error lines, and the output kept
 * at its head and its tail (a long `go test` report starts with the failure and ends with the
 * summary; the tail alone loses the first).
 */

const MAX_FAILING_TESTS = 20;
const MAX_FIRST_ERRORS = 12;

/** `--- FAIL: TestName (0.00s)` (subtests included), in order, without repeats. */
export function failingTests(output: string): string[] {
  const names = new Set<string>();
  for (const match of output.matchAll(/^\s*--- FAIL: (\S+)/gm)) {
    names.add(match[1]!);
    if (names.size >= MAX_FAILING_TESTS) break;
  }
  return [...names];
}

const ERROR_LINE =
  /^\s*(?:[\w./-]+\.go:\d+(?::\d+)?: |panic: |fatal error: |build: error: |vet: |\S+_test\.go:\d+: |# [\w./-]+$|FAIL\s)/;

/** The first lines that look like errors (compiler, vet, test assertions, panics, build). */
export function firstErrors(output: string, max = MAX_FIRST_ERRORS): string[] {
  const out: string[] = [];
  for (const line of output.split(/\r?\n/)) {
    if (!ERROR_LINE.test(line) || /^\s*--- FAIL/.test(line)) continue;
    out.push(line.trimEnd().slice(0, 300));
    if (out.length >= max) break;
  }
  return out;
}

/** The output within `maxChars`: its head and its tail, with what was left out counted between. */
export function headAndTail(output: string, maxChars: number): string {
  const text = output.replace(/\s+$/, '');
  if (text.length <= maxChars) return text;
  const lines = text.split(/\r?\n/);
  const headBudget = Math.floor(maxChars * 0.4);
  const tailBudget = maxChars - headBudget;
  const head: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used + line.length + 1 > headBudget) break;
    head.push(line);
    used += line.length + 1;
  }
  const tail: string[] = [];
  used = 0;
  for (let i = lines.length - 1; i >= head.length; i--) {
    const line = lines[i]!;
    if (used + line.length + 1 > tailBudget) break;
    tail.unshift(line);
    used += line.length + 1;
  }
  const omitted = lines.length - head.length - tail.length;
  if (head.length === 0 && tail.length === 0)
    return `${text.slice(0, headBudget)}\n…\n${text.slice(-tailBudget)}`;
  return [...head, `… ${omitted} line(s) omitted …`, ...tail].join('\n');
}

/** A failed command's report: failing tests, first errors, then the output's head and tail. */
export function failureReport(headline: string, output: string, maxChars: number): string {
  const parts = [headline.length > 300 ? `${headline.slice(0, 299)}…` : headline];
  const tests = failingTests(output);
  if (tests.length > 0) parts.push(`Failing tests: ${tests.join(', ')}`);
  const errors = firstErrors(output);
  if (errors.length > 0) parts.push('First errors:', ...errors);
  const budget = Math.max(500, maxChars - parts.join('\n').length - 40);
  parts.push('Output (head and tail):', headAndTail(output, budget) || '(no output)');
  return parts.join('\n');
}
