import { describe, expect, it } from 'vitest';
import {
  AcceptanceCheckSchema,
  AcceptanceChecksSchema,
  addressingProblem,
  argumentProblem,
  enoughChecks,
  MAX_FILE_BYTES,
  MAX_STDIN_BYTES,
  parseChecks,
  patternProblem,
} from '../../lib/domain/acceptance.ts';
import { cliCheckProblems, numberShown, numbersIn, textProblems } from '../../lib/domain/acceptance-eval.ts';

const cli = {
  kind: 'cli',
  id: 'km-to-miles',
  title: '10 km is shown as 6.21 miles',
  args: ['10', 'km', 'mi'],
  expect: [{ op: 'number', value: 6.21, tolerance: 0.01 }],
} as const;

const web = {
  kind: 'web',
  id: 'split-three',
  title: '€100 with a 15 % tip split between 3 people is €38.33 each',
  steps: [
    { action: 'fill', label: 'Bill amount', value: '100' },
    { action: 'fill', label: 'Number of people', value: '3' },
    { action: 'click', name: '15%' },
  ],
  expect: [{ type: 'number', value: 38.33, tolerance: 0.005 }],
} as const;

describe('acceptance check schema', () => {
  it('accepts the two kinds and applies defaults', () => {
    const c = AcceptanceCheckSchema.parse(cli);
    expect(c).toMatchObject({ exitCode: 0, timeoutMs: 5000 });
    const w = AcceptanceCheckSchema.parse(web);
    expect(w.kind === 'web' && w.steps[2]).toEqual({ action: 'click', role: 'button', name: '15%' });
  });

  it.each([
    ['#bill', 'selector'],
    ['.result > span', 'selector'],
    ['css=button', 'selector'],
    ['input[name=bill]', 'selector'],
    ['text=Total >> nth=1', 'selector'],
    ['//div[@id="x"]', 'path'],
    ['/etc/passwd', 'path'],
    ['../secrets', 'path'],
    ['C:\\Windows', 'path'],
    ['see src/tool/tool.go', 'path'],
    ['https://evil.example/x', 'URL'],
    ['javascript:alert(1)', 'URL'],
    ['www.example.com', 'URL'],
    ['<script>alert(1)</script>', 'markup'],
    ['document.cookie', 'script'],
    ['() => fetch(1)', 'script'],
    ['img onerror=alert(1)', 'script'],
  ])('refuses %j where a person would name a thing (%s)', (text, kind) => {
    expect(addressingProblem(text)).toMatch(new RegExp(kind, 'i'));
    const step = { action: 'fill', label: text, value: '1' };
    expect(AcceptanceCheckSchema.safeParse({ ...web, steps: [step] }).success).toBe(false);
    expect(AcceptanceCheckSchema.safeParse({ ...web, title: text }).success).toBe(false);
  });

  it.each(['Bill amount', 'Speed in km/h', '10 km is shown as 6.21 miles', 'Tip (15%)', 'Total: €38.33'])(
    'accepts the ordinary text %j',
    (text) => {
      expect(addressingProblem(text)).toBeUndefined();
    },
  );

  it('refuses unknown fields, actions and roles: no way to pass a selector or a script', () => {
    expect(AcceptanceCheckSchema.safeParse({ ...web, selector: '#x' }).success).toBe(false);
    expect(
      AcceptanceCheckSchema.safeParse({ ...web, steps: [{ action: 'evaluate', script: 'x()' }] }).success,
    ).toBe(false);
    expect(
      AcceptanceCheckSchema.safeParse({ ...web, steps: [{ action: 'goto', url: '/admin' }] }).success,
    ).toBe(false);
    expect(
      AcceptanceCheckSchema.safeParse({ ...web, steps: [{ action: 'click', role: 'img', name: 'x' }] })
        .success,
    ).toBe(false);
    expect(
      AcceptanceCheckSchema.safeParse({
        ...web,
        steps: [{ action: 'fill', label: 'x', value: '1', css: '#a' }],
      }).success,
    ).toBe(false);
    expect(AcceptanceCheckSchema.safeParse({ ...cli, shell: 'sh -c ls' }).success).toBe(false);
    expect(AcceptanceCheckSchema.safeParse({ ...cli, kind: 'shell' }).success).toBe(false);
  });

  it('refuses oversize values', () => {
    expect(AcceptanceCheckSchema.safeParse({ ...cli, stdin: 'x'.repeat(MAX_STDIN_BYTES + 1) }).success).toBe(
      false,
    );
    expect(AcceptanceCheckSchema.safeParse({ ...cli, stdin: 'x'.repeat(MAX_STDIN_BYTES) }).success).toBe(
      true,
    );
    expect(AcceptanceCheckSchema.safeParse({ ...cli, args: Array(17).fill('1') }).success).toBe(false);
    expect(AcceptanceCheckSchema.safeParse({ ...cli, timeoutMs: 60_000 }).success).toBe(false);
    expect(AcceptanceCheckSchema.safeParse({ ...cli, title: 'x'.repeat(121) }).success).toBe(false);
    const upload = (content: string) => ({
      ...web,
      steps: [{ action: 'upload', label: 'CSV file', file: { name: 'data.csv', content } }],
    });
    expect(AcceptanceCheckSchema.safeParse(upload('a'.repeat(MAX_FILE_BYTES + 1))).success).toBe(false);
    expect(AcceptanceCheckSchema.safeParse(upload('a,b\n1,2\n')).success).toBe(true);
    expect(AcceptanceCheckSchema.safeParse({ ...web, steps: Array(21).fill(web.steps[0]) }).success).toBe(
      false,
    );
    expect(
      AcceptanceChecksSchema.safeParse(
        Array(9)
          .fill(cli)
          .map((c, i) => ({ ...c, id: `c${i}` })),
      ).success,
    ).toBe(false);
  });

  it('refuses file names that are paths', () => {
    for (const name of ['../x.csv', '/tmp/x', 'a/b.csv', '.hidden']) {
      const c = { ...web, steps: [{ action: 'upload', label: 'File', file: { name, content: 'x' } }] };
      expect(AcceptanceCheckSchema.safeParse(c).success, name).toBe(false);
    }
  });

  it('refuses arguments that name files or URLs, keeps ordinary ones', () => {
    for (const a of ['/etc/passwd', '../x', '~/.ssh/id_rsa', 'C:\\x', 'http://x', 'a\nb']) {
      expect(argumentProblem(a), a).toBeDefined();
    }
    for (const a of ['--percent', '20', '84.50', 'km/h', '-n', 'hello world'])
      expect(argumentProblem(a), a).toBeUndefined();
  });

  it('screens regular expressions the gate would run', () => {
    expect(patternProblem('^\\d+\\.\\d{2}$')).toBeUndefined();
    expect(patternProblem('(a+)+$')).toMatch(/nested/);
    expect(patternProblem('(\\w*)*x')).toMatch(/nested/);
    expect(patternProblem('(a)\\1')).toMatch(/back-reference/);
    expect(patternProblem('x(?=y)')).toMatch(/look-around/);
    expect(patternProblem('(')).toMatch(/valid/);
  });

  it('parseChecks keeps the valid checks and drops the rest with a reason', () => {
    const r = parseChecks([cli, { ...web, id: 'bad', steps: [{ action: 'click', name: '#go' }] }, cli, 'x']);
    expect(r.checks.map((c) => c.id)).toEqual(['km-to-miles']);
    expect(r.dropped).toHaveLength(3);
    expect(r.dropped[0]).toMatch(/#1 \(bad\): steps.0.name: looks like a selector/);
    expect(r.dropped[1]).toMatch(/duplicate/);
    expect(parseChecks('nope').dropped).toEqual(['checks: not a list']);
  });

  it('enoughChecks wants two that apply, and both kinds for a tool delivered both ways', () => {
    const c = AcceptanceCheckSchema.parse(cli);
    const w = AcceptanceCheckSchema.parse(web);
    expect(enoughChecks([c, { ...c, id: 'b' }], 'binary')).toBe(true);
    expect(enoughChecks([c, { ...c, id: 'b' }], 'web')).toBe(false);
    expect(enoughChecks([c, { ...c, id: 'b' }], 'both')).toBe(false);
    expect(enoughChecks([c, w], 'both')).toBe(true);
    expect(enoughChecks([w], 'web')).toBe(false);
  });
});

describe('acceptance evaluation', () => {
  it('reads numbers the way people write them', () => {
    expect(numbersIn('10 km = 6.21 mi')).toEqual(expect.arrayContaining([10, 6.21]));
    expect(numbersIn('Total: 1,234.56')).toContain(1234.56);
    expect(numbersIn('Summe: 1.234,56 €')).toContain(1234.56);
    expect(numbersIn('€38,33 each')).toContain(38.33);
    expect(numbersIn('−4 °C')).toContain(-4);
  });

  it('a number expectation passes within the tolerance and fails outside it', () => {
    expect(numberShown('6.21 mi', { value: 6.21, tolerance: 0.01 }).ok).toBe(true);
    expect(numberShown('6.2137 mi', { value: 6.21, tolerance: 0.01 }).ok).toBe(true);
    expect(numberShown('10 Km Mi', { value: 6.21, tolerance: 0.01 }).ok).toBe(false);
    expect(numberShown('Tip: 15.00\nEach: 38.34', { value: 38.33, tolerance: 0.005, near: 'each' }).ok).toBe(
      false,
    );
    expect(numberShown('Tip: 38.33\nEach: 40', { value: 38.33, tolerance: 0.005, near: 'each' }).ok).toBe(
      false,
    );
    expect(numberShown('Tip: 15.00\nEach: 38.33', { value: 38.33, tolerance: 0.005, near: 'each' }).ok).toBe(
      true,
    );
  });

  it('text expectations: contains, not_contains, equals, matches', () => {
    const e = (x: object) => AcceptanceCheckSchema.parse({ ...cli, expect: [x] }).expect[0];
    const check = (x: object, text: string) => textProblems(e(x) as never, text);
    expect(check({ op: 'contains', value: 'Miles' }, '6.21 miles')).toHaveLength(1);
    expect(check({ op: 'contains', value: 'Miles', ignoreCase: true }, '6.21 miles')).toEqual([]);
    expect(check({ op: 'not_contains', value: 'error' }, 'an error')).toHaveLength(1);
    expect(check({ op: 'equals', value: 'SGVsbG8=' }, 'SGVsbG8=\n')).toEqual([]);
    expect(check({ op: 'equals', value: 'SGVsbG8=' }, 'SGVsbG8= \nmore')).toHaveLength(1);
    expect(check({ op: 'matches', pattern: '^[A-Za-z0-9]{16}$' }, 'abcdEFGH12345678')).toEqual([]);
    expect(check({ op: 'matches', pattern: '^[A-Za-z0-9]{16}$' }, 'short')).toHaveLength(1);
  });

  it('a cli check fails on the wrong output, the wrong exit code and a timeout, naming expected and got', () => {
    const c = AcceptanceCheckSchema.parse(cli);
    if (c.kind !== 'cli') throw new Error('cli');
    const ok = { exitCode: 0, stdout: '10 km = 6.21 mi\n', stderr: '', timedOut: false };
    expect(cliCheckProblems(c, ok)).toEqual([]);
    const wrong = cliCheckProblems(c, { ...ok, stdout: '10 Km Mi\n' });
    expect(wrong[0]).toMatch(/should show 6.21 \(±0.01\); saw 10 in "10 Km Mi\\n"/);
    expect(cliCheckProblems(c, { ...ok, exitCode: 2 })[0]).toMatch(/exit code should be 0; got 2/);
    expect(cliCheckProblems(c, { ...ok, timedOut: true })).toEqual(['timed out after 5000 ms']);
  });
});
