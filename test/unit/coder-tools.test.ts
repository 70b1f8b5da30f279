import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  coderToolSpecs,
  parseWorktreePath,
  summaryProblem,
  TOOL_SPECS,
  ToolRefusal,
  WorktreeTools,
  webContentProblem,
  writePolicyProblem,
} from '../../worker-image/src/coder/tools.ts';

let root: string;
let worktree: string;
let outside: string;
let logs: string[];

function tools(extra: Partial<ConstructorParameters<typeof WorktreeTools>[0]> = {}): WorktreeTools {
  return new WorktreeTools({
    worktree,
    testCommands: [[process.execPath, '-e', 'console.log("tests ok")']],
    buildCommands: [[process.execPath, '-e', 'console.error("main.go:3: syntax error"); process.exit(2)']],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    log: (l) => logs.push(l),
    ...extra,
  });
}

const call = (name: string, input: unknown) => ({ name, input, rawInput: JSON.stringify(input) });

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'coder-tools-'));
  worktree = path.join(root, 'repo');
  outside = path.join(root, 'outside');
  mkdirSync(path.join(worktree, 'tool'), { recursive: true });
  mkdirSync(path.join(worktree, 'web'), { recursive: true });
  mkdirSync(path.join(worktree, '.git'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(worktree, 'main.go'), 'package main\n\nfunc main() {}\n');
  writeFileSync(path.join(worktree, 'app.json'), '{"name":"x"}\n');
  writeFileSync(path.join(worktree, 'tool/tool.go'), 'package tool\n');
  writeFileSync(path.join(worktree, '.git/config'), '[core]\n');
  writeFileSync(path.join(outside, 'secret.txt'), 'outside secret');
  logs = [];
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('worktree path validation', () => {
  it.each([
    ['../../etc/passwd', /escapes/],
    ['/etc/passwd', /absolute/],
    ['C:/Windows/x', /absolute/],
    ['~/x', /absolute/],
    ['web\\..\\x', /backslash/],
    ['web/a\0b', /NUL/],
    ['web/./x', /"\."/],
    ['web//x', /empty/],
    ['web/.hidden', /not allowed/],
    ['.git/config', /not allowed/],
    ['', /empty/],
  ])('refuses %j', (p, message) => {
    expect(() => parseWorktreePath(p)).toThrow(ToolRefusal);
    expect(() => parseWorktreePath(p)).toThrow(message);
  });

  it('accepts plain relative paths', () => {
    expect(parseWorktreePath('web/index.html')).toEqual(['web', 'index.html']);
    expect(parseWorktreePath('.', { allowRoot: true })).toEqual([]);
  });

  it('allows writes only to tool/*.go, tool/testdata, web text files and app.json', () => {
    expect(writePolicyProblem(['app.json'])).toBeUndefined();
    expect(writePolicyProblem(['tool', 'tool.go'])).toBeUndefined();
    expect(writePolicyProblem(['tool', 'testdata', 'cases.json'])).toBeUndefined();
    expect(writePolicyProblem(['web', 'index.html'])).toBeUndefined();
    expect(writePolicyProblem(['web', 'main.go'])).toMatch(/web/);
    expect(writePolicyProblem(['web', 'bundle.js.map'])).toMatch(/web/);
    expect(writePolicyProblem(['main.go'])).toMatch(/only tool/);
    expect(writePolicyProblem(['tools', 'build', 'main.go'])).toMatch(/only tool/);
    expect(writePolicyProblem(['go.mod'])).toMatch(/only tool/);
    expect(writePolicyProblem(['tool', 'notes.md'])).toMatch(/tool/);
  });

  it('refuses Go source and source maps in web content', () => {
    expect(webContentProblem('package main\n\nimport "fmt"\n\nfunc main() {}\n')).toMatch(/source code/);
    expect(webContentProblem('//# sourceMappingURL=app.js.map')).toMatch(/source map/);
    expect(webContentProblem('<p>This package main feature is great</p>')).toBeUndefined();
  });

  it.each([
    ['The reverse text tool is ready as a web app and binaries.', undefined],
    ['Wrote tool/tool.go and web/app.js.', /paths|file names/],
    ['Built from /tmp/busdk-worker-x/repo.', /paths/],
    ['Uses `strings.Builder`.', /code/],
    ['func main() { }', /code/],
    ['line one\nline two', /one line/],
    ['x'.repeat(300), /at most/],
    ['See https://example.com', /links/],
    [42, /string/],
  ])('summary %j', (summary, problem) => {
    const found = summaryProblem(summary);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  it('declares the tools with object schemas; report_progress names the feature count', () => {
    expect(TOOL_SPECS.map((t) => t.name)).toEqual([
      'list_files',
      'read_file',
      'write_file',
      'edit_file',
      'delete_file',
      'run_tests',
      'run_build',
      'finish',
    ]);
    const specs = coderToolSpecs(3);
    expect(specs.map((t) => t.name)).toEqual([...TOOL_SPECS.map((t) => t.name), 'report_progress']);
    for (const t of specs) expect(t.inputSchema.type).toBe('object');
    const progress = specs.at(-1)!.inputSchema as { properties: { feature: { maximum: number } } };
    expect(progress.properties.feature.maximum).toBe(3);
  });

  it('says what becomes of the finish summary as the system prompt does: stored, never shown', () => {
    // The summary is kept in result.json and the commit message; the visitor sees fixed sentences.
    const finish = TOOL_SPECS.find((t) => t.name === 'finish')!;
    expect(finish.description).toMatch(/stored internally/);
    expect(finish.description).toMatch(/never shown to the customer/);
    expect(finish.description).not.toMatch(/for the customer/);
  });
});

describe('WorktreeTools', () => {
  it('lists files without .git, reads and writes inside the worktree', async () => {
    const t = tools();
    const listing = await t.execute(call('list_files', { path: '.' }));
    expect(listing.isError).toBe(false);
    expect(listing.content).toContain('main.go (');
    expect(listing.content).toContain('tool/tool.go (');
    expect(listing.content).not.toContain('.git');
    expect((await t.execute(call('read_file', { path: 'main.go' }))).content).toContain('package main');
    const wrote = await t.execute(call('write_file', { path: 'web/sub/page.html', content: '<p>hi</p>' }));
    expect(wrote).toEqual({ content: 'Wrote web/sub/page.html (9 bytes).', isError: false });
    expect(readFileSync(path.join(worktree, 'web/sub/page.html'), 'utf8')).toBe('<p>hi</p>');
  });

  it('refuses escapes, absolute paths and frame files; nothing is written outside', async () => {
    const t = tools();
    for (const [name, input] of [
      ['write_file', { path: '../outside/pwned.txt', content: 'x' }],
      ['write_file', { path: '../../etc/passwd', content: 'x' }],
      ['write_file', { path: path.join(outside, 'abs.txt'), content: 'x' }],
      ['write_file', { path: 'main.go', content: 'package main' }],
      ['write_file', { path: '.git/hooks/pre-commit', content: '#!/bin/sh' }],
      ['read_file', { path: '../outside/secret.txt' }],
      ['read_file', { path: path.join(outside, 'secret.txt') }],
      ['read_file', { path: '.git/config' }],
      ['delete_file', { path: 'main.go' }],
      ['list_files', { path: '..' }],
    ] as const) {
      const out = await t.execute(call(name, input));
      expect(out.isError, `${name} ${JSON.stringify(input)}`).toBe(true);
      expect(out.content).toMatch(/^Error: /);
      expect(out.content).not.toContain('outside secret');
    }
    expect(existsSync(path.join(outside, 'pwned.txt'))).toBe(false);
    expect(existsSync(path.join(outside, 'abs.txt'))).toBe(false);
    expect(readFileSync(path.join(worktree, 'main.go'), 'utf8')).toContain('func main');
  });

  it('never follows or overwrites symbolic links (file, parent folder, read)', async () => {
    symlinkSync(path.join(outside, 'secret.txt'), path.join(worktree, 'web/link.txt'));
    symlinkSync(outside, path.join(worktree, 'web/linkdir'));
    symlinkSync(outside, path.join(worktree, 'tool/sub'));
    const t = tools();
    for (const [name, input] of [
      ['read_file', { path: 'web/link.txt' }],
      ['write_file', { path: 'web/link.txt', content: 'overwrite' }],
      ['write_file', { path: 'web/linkdir/new.txt', content: 'x' }],
      ['read_file', { path: 'web/linkdir/secret.txt' }],
      ['list_files', { path: 'web/linkdir' }],
      ['delete_file', { path: 'web/link.txt' }],
    ] as const) {
      const out = await t.execute(call(name, input));
      expect(out.isError, `${name} ${JSON.stringify(input)}`).toBe(true);
      expect(out.content).toMatch(/symbolic link/);
    }
    expect(readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('outside secret');
    expect(existsSync(path.join(outside, 'new.txt'))).toBe(false);
    const listing = await t.execute(call('list_files', { path: 'web' }));
    expect(listing.content).toContain('web/link.txt (symbolic link, not accessible)');
    expect(listing.content).not.toContain('secret.txt');
  });

  it('caps file size, total bytes and file count', async () => {
    const t = tools({ limits: { maxWriteBytes: 100, maxTotalWriteBytes: 150, maxFilesWritten: 3 } });
    expect(
      (await t.execute(call('write_file', { path: 'web/a.txt', content: 'x'.repeat(101) }))).content,
    ).toMatch(/larger than 100/);
    expect(
      (await t.execute(call('write_file', { path: 'web/a.txt', content: 'x'.repeat(100) }))).isError,
    ).toBe(false);
    expect(
      (await t.execute(call('write_file', { path: 'web/b.txt', content: 'x'.repeat(60) }))).content,
    ).toMatch(/at most 150 bytes/);
    await t.execute(call('write_file', { path: 'web/b.txt', content: 'b' }));
    await t.execute(call('write_file', { path: 'web/c.txt', content: 'c' }));
    expect((await t.execute(call('write_file', { path: 'web/d.txt', content: 'd' }))).content).toMatch(
      /at most 3 files/,
    );
  });

  it('validates app.json and web content', async () => {
    const t = tools();
    expect((await t.execute(call('write_file', { path: 'app.json', content: '{nope' }))).content).toMatch(
      /valid JSON/,
    );
    const copy = readFileSync(path.join(worktree, 'main.go'), 'utf8');
    expect((await t.execute(call('write_file', { path: 'web/source.txt', content: copy }))).content).toMatch(
      /source code/,
    );
    expect(existsSync(path.join(worktree, 'web/source.txt'))).toBe(false);
  });

  it('returns bad input as tool errors, never throws', async () => {
    const t = tools();
    expect((await t.execute({ name: 'write_file', input: undefined, rawInput: '{"path":' })).content).toMatch(
      /JSON object/,
    );
    expect((await t.execute(call('write_file', { path: 'web/x.txt', content: 7 }))).content).toMatch(
      /string/,
    );
    expect((await t.execute(call('rm_rf', {}))).content).toMatch(/unknown tool/);
    expect((await t.execute({ name: 'run_tests', input: undefined, rawInput: '' })).isError).toBe(false);
  });

  it('runs only the profile commands, reports failures with output, and gates finish on them', async () => {
    const t = tools();
    expect((await t.execute(call('finish', { summary: 'Done.' }))).content).toMatch(
      /run_tests and run_build/,
    );
    const tests = await t.execute(call('run_tests', {}));
    expect(tests.isError).toBe(false);
    expect(tests.content).toMatch(/^PASSED: /);
    const build = await t.execute(call('run_build', {}));
    expect(build.isError).toBe(true);
    expect(build.content).toContain('exited with code 2');
    expect(build.content).toContain('main.go:3: syntax error');
    expect((await t.execute(call('finish', { summary: 'Done.' }))).isError).toBe(true);
  });

  it('accepts finish after passing tests and build, until the next change', async () => {
    const t = tools({ buildCommands: [[process.execPath, '-e', '']] });
    await t.execute(call('run_tests', {}));
    await t.execute(call('run_build', {}));
    await t.execute(call('write_file', { path: 'web/x.txt', content: 'changed' }));
    expect((await t.execute(call('finish', { summary: 'The tool is ready.' }))).isError).toBe(true);
    await t.execute(call('run_tests', {}));
    await t.execute(call('run_build', {}));
    expect((await t.execute(call('finish', { summary: 'Wrote web/x.txt.' }))).content).toMatch(/paths/);
    expect(await t.execute(call('finish', { summary: 'The tool is ready.' }))).toEqual({
      content: 'Finished.',
      isError: false,
      finished: { summary: 'The tool is ready.' },
    });
  });

  it('bounds a command by the remaining budget and kills it', async () => {
    const t = tools({
      testCommands: [[process.execPath, '-e', 'setInterval(() => {}, 1000)']],
      remainingMs: () => 1500,
    });
    const started = Date.now();
    const out = await t.execute(call('run_tests', {}));
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('edit_file', () => {
  it('replaces exactly one unique occurrence', async () => {
    writeFileSync(path.join(worktree, 'web/style.css'), '.a { color: red; }\n.b { color: blue; }\n');
    const out = await tools().execute(
      call('edit_file', { path: 'web/style.css', old_text: 'color: red', new_text: 'color: green' }),
    );
    expect(out).toMatchObject({ isError: false });
    expect(out.content).toMatch(/^Edited web\/style\.css: replaced 1 occurrence/);
    expect(readFileSync(path.join(worktree, 'web/style.css'), 'utf8')).toBe(
      '.a { color: green; }\n.b { color: blue; }\n',
    );
  });

  it('refuses a missing or ambiguous text with the count, and changes nothing', async () => {
    const css = '.a { color: red; }\n.b { color: red; }\n';
    writeFileSync(path.join(worktree, 'web/style.css'), css);
    const t = tools();
    const missing = await t.execute(
      call('edit_file', { path: 'web/style.css', old_text: 'color: pink', new_text: 'x' }),
    );
    expect(missing).toMatchObject({ isError: true });
    expect(missing.content).toMatch(/not found in web\/style\.css \(0 occurrences\)/);
    const ambiguous = await t.execute(
      call('edit_file', { path: 'web/style.css', old_text: 'color: red', new_text: 'x' }),
    );
    expect(ambiguous).toMatchObject({ isError: true });
    expect(ambiguous.content).toMatch(/occurs 2 times in web\/style\.css/);
    expect(readFileSync(path.join(worktree, 'web/style.css'), 'utf8')).toBe(css);
  });

  it('keeps the write rules: frame files, missing files, source in web/', async () => {
    const t = tools();
    const frame = await t.execute(call('edit_file', { path: 'main.go', old_text: 'main', new_text: 'x' }));
    expect(frame.content).toMatch(/only tool\/, web\/ and app.json/);
    const absent = await t.execute(call('edit_file', { path: 'web/none.js', old_text: 'a', new_text: 'b' }));
    expect(absent.content).toMatch(/no such file: web\/none\.js/);
    writeFileSync(path.join(worktree, 'web/app.js'), 'const x = 1;\n');
    const leak = await t.execute(
      call('edit_file', {
        path: 'web/app.js',
        old_text: 'const x = 1;',
        new_text: 'package main\n\nfunc main() {}',
      }),
    );
    expect(leak.content).toMatch(/must not contain source code/);
  });
});

describe('report_progress', () => {
  const features = ['Split the total between any number of people', 'Round up to whole euros.'];

  it('accepts an approved feature (number or exact title) or a fixed stage', async () => {
    const reports: unknown[] = [];
    const t = tools({ features, progress: (r) => reports.push(r) });
    const byNumber = await t.execute(call('report_progress', { feature: 1 }));
    expect(byNumber.isError).toBe(false);
    expect(byNumber.content).toContain('"Done: Split the total between any number of people."');
    await t.execute(call('report_progress', { feature: 'Round up to whole euros.' }));
    const stage = await t.execute(call('report_progress', { stage: 'writing_tests' }));
    expect(stage.content).toContain('The build worker is writing tests for the tool.');
    expect(reports).toEqual([{ feature: 1 }, { feature: 2 }, { stage: 'writing_tests' }]);
  });

  it.each([
    [{ message: 'Almost done, the CSV parser works!' }],
    [{ feature: 'tool/tool.go is written' }],
    [{ feature: 'Split the total' }],
    [{ feature: 3 }],
    [{ feature: 0 }],
    [{ feature: 1.5 }],
    [{ stage: 'hacking' }],
    [{ stage: 'testing', feature: 1 }],
    [{ feature: 1, text: 'hello' }],
    [{}],
  ])('refuses %j as a tool error and reports nothing', async (args) => {
    const reports: unknown[] = [];
    const out = await tools({ features, progress: (r) => reports.push(r) }).execute(
      call('report_progress', args),
    );
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^Error: /);
    expect(reports).toEqual([]);
  });
});

describe('command reports', () => {
  const goTestOutput = [
    '=== RUN   TestSplit',
    '    tool_test.go:14: Split(100, 3) = 33, want 34',
    '--- FAIL: TestSplit (0.00s)',
    '=== RUN   TestRound/zero',
    '--- FAIL: TestRound (0.00s)',
    '    --- FAIL: TestRound/zero (0.00s)',
    ...Array.from({ length: 400 }, (_, i) => `noise line ${i}`),
    'FAIL\texample.com/tool/tool\t0.004s',
  ].join('\n');

  it('a failing test run names the failing tests and the first errors, keeping head and tail', async () => {
    const script = path.join(root, 'go-test.js');
    writeFileSync(script, `process.stdout.write(${JSON.stringify(goTestOutput)}); process.exit(1)`);
    const out = await tools({ testCommands: [[process.execPath, script]] }).execute(call('run_tests', {}));
    expect(out.isError).toBe(true);
    const lines = out.content.split('\n');
    expect(lines[0]).toMatch(/^FAILED: .* exited with code 1$/);
    expect(lines[1]).toBe('Failing tests: TestSplit, TestRound, TestRound/zero');
    expect(out.content).toContain('First errors:\n    tool_test.go:14: Split(100, 3) = 33, want 34');
    expect(out.content).toContain('=== RUN   TestSplit'); // head
    expect(out.content).toContain('FAIL\texample.com/tool/tool'); // tail
    expect(out.content).toMatch(/… \d+ line\(s\) omitted …/);
    expect(out.content.length).toBeLessThan(6500);
  });

  it('a passing build returns its own lines and the platform note', async () => {
    const script = 'console.log("build: linux-amd64 -> dist/bin/x-linux-amd64 (10 bytes)")';
    const out = await tools({
      buildCommands: [[process.execPath, '-e', script]],
      buildNote: 'Note: this build made only linux-amd64 (this machine).',
    }).execute(call('run_build', {}));
    expect(out.isError).toBe(false);
    expect(out.content.split('\n')).toEqual([
      expect.stringMatching(/^PASSED: /),
      'build: linux-amd64 -> dist/bin/x-linux-amd64 (10 bytes)',
      'Note: this build made only linux-amd64 (this machine).',
    ]);
  });
});
