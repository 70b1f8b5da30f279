import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AcceptanceCheckInput, type CliCheck, CliCheckSchema } from '../../lib/domain/acceptance.ts';
import { runCliChecks } from '../../lib/verify/acceptance/cli-runner.ts';
import { cleanupTempDirs, HAS_GO, HOST, shellBinary, tempDir } from './verify-fixtures.ts';

afterAll(cleanupTempDirs);

/** A real unit converter: `conv 10 km mi` prints `10 km = 6.21 mi`; with no args, sums stdin lines. */
const CONVERTER_GO = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) == 1 {
		sum := 0.0
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			v, err := strconv.ParseFloat(sc.Text(), 64)
			if err == nil {
				sum += v
			}
		}
		fmt.Printf("total %.2f\\n", sum)
		return
	}
	if len(os.Args) != 4 || os.Args[2] != "km" || os.Args[3] != "mi" {
		fmt.Fprintln(os.Stderr, "usage: conv <n> km mi")
		os.Exit(2)
	}
	v, err := strconv.ParseFloat(os.Args[1], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "not a number:", os.Args[1])
		os.Exit(2)
	}
	fmt.Printf("%s km = %.2f mi\\n", os.Args[1], v*0.621371)
}
`;

const cli = (
  c: Omit<AcceptanceCheckInput & { kind: 'cli' }, 'kind' | 'title'> & { title?: string },
): CliCheck => CliCheckSchema.parse({ kind: 'cli', title: `check ${c.id}`, ...c });

const kmToMiles = cli({
  id: 'km-to-miles',
  args: ['10', 'km', 'mi'],
  expect: [{ op: 'number', value: 6.21, tolerance: 0.005, near: 'mi' }],
});

describe('runCliChecks', () => {
  const dir = tempDir('cli-checks');
  let converter: string;

  beforeAll(() => {
    if (HAS_GO) {
      const src = tempDir('cli-checks-src');
      writeFileSync(path.join(src, 'go.mod'), 'module example.com/conv\n\ngo 1.19\n');
      writeFileSync(path.join(src, 'main.go'), CONVERTER_GO);
      converter = path.join(dir, 'conv');
      execFileSync('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', converter, '.'], {
        cwd: src,
        env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
        stdio: 'pipe',
      });
    } else {
      converter = shellBinary(
        dir,
        'conv',
        '[ $# -eq 0 ] && { s=0; while read -r l; do s=$((s + l)); done; echo "total $s.00"; exit 0; }\n' +
          '[ "$2 $3" = "km mi" ] || { echo "usage: conv <n> km mi" >&2; exit 2; }\n' +
          'echo "$1 km = $(awk "BEGIN{printf \\"%.2f\\", $1*0.621371}") mi"',
      );
    }
  }, 120_000);

  it('passes a right output and fails the template skeleton that echoes its arguments', async () => {
    const right = await runCliChecks({ binary: converter, platform: HOST, checks: [kmToMiles] });
    expect(right).toEqual([
      { id: 'km-to-miles', kind: 'cli', passed: true, ranOn: HOST, durationMs: expect.any(Number) },
    ]);

    const skeleton = shellBinary(dir, 'skeleton', 'echo "$@" | sed "s/\\b\\(.\\)/\\u\\1/g"');
    const [wrong] = await runCliChecks({ binary: skeleton, platform: HOST, checks: [kmToMiles] });
    expect(wrong).toMatchObject({ id: 'km-to-miles', passed: false });
    expect(wrong?.detail).toContain('stdout should show 6.21 (±0.005) on a line with "mi"');
    expect(wrong?.detail).toContain('10 Km Mi');
  });

  it('fails a wrong number even when the rest of the output looks right', async () => {
    const off = shellBinary(dir, 'off-by', 'echo "$1 km = 16.09 mi"');
    const [r] = await runCliChecks({ binary: off, platform: HOST, checks: [kmToMiles] });
    expect(r?.passed).toBe(false);
    expect(r?.detail).toMatch(/saw 10, 16\.09/);
  });

  it('judges the exit code and stderr', async () => {
    const usage = cli({
      id: 'bad-unit',
      args: ['10', 'kg', 'mi'],
      exitCode: 2,
      expect: [{ op: 'contains', stream: 'stderr', value: 'usage' }],
    });
    const [ok] = await runCliChecks({ binary: converter, platform: HOST, checks: [usage] });
    expect(ok?.passed).toBe(true);
    const wantZero = cli({ ...usage, id: 'bad-unit-zero', exitCode: 0 });
    const [bad] = await runCliChecks({ binary: converter, platform: HOST, checks: [wantZero] });
    expect(bad?.passed).toBe(false);
    expect(bad?.detail).toMatch(/^exit code should be 0; got 2 \(stderr "usage: conv <n> km mi/);
  });

  it('pipes the standard input', async () => {
    const sum = cli({
      id: 'sum',
      args: [],
      stdin: '1.5\n2.5\n3\n',
      expect: [{ op: 'equals', value: 'total 7.00' }],
    });
    const [r] = await runCliChecks({ binary: converter, platform: HOST, checks: [sum] });
    expect(r).toMatchObject({ passed: true });
    const [wrong] = await runCliChecks({
      binary: converter,
      platform: HOST,
      checks: [cli({ ...sum, id: 'sum-wrong', stdin: '1\n' })],
    });
    expect(wrong?.detail).toBe('stdout should be "total 7.00"; got "total 1.00\\n"');
  });

  it('kills a check that hangs after its timeout, with its children', async () => {
    const marker = path.join(dir, 'survived');
    const hang = shellBinary(dir, 'hang', `(sleep 2; touch ${marker}) & sleep 30`);
    const started = Date.now();
    const [r] = await runCliChecks({
      binary: hang,
      platform: HOST,
      checks: [cli({ id: 'hangs', args: [], timeoutMs: 400, expect: [{ op: 'contains', value: 'x' }] })],
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r).toMatchObject({ passed: false, detail: 'timed out after 400 ms' });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(existsSync(marker)).toBe(false);
  });

  it('runs with no shell, no inherited environment, in a scratch dir that is removed, and caps output', async () => {
    process.env.BUSDK_TEST_SECRET = 'sekrit-value';
    const before = readdirSync(os.tmpdir()).filter((n) => n.startsWith('busdk-smoke-'));
    try {
      const probe = shellBinary(
        dir,
        'probe',
        'echo "arg=$1"; echo "cwd=$(pwd)"; env; head -c 200000 /dev/zero | tr "\\0" y',
      );
      const [r] = await runCliChecks({
        binary: probe,
        platform: HOST,
        maxOutputBytes: 4096,
        checks: [
          cli({
            id: 'env',
            args: ['$(touch pwned); `id`'],
            expect: [
              { op: 'contains', value: 'arg=$(touch pwned); `id`' },
              { op: 'not_contains', value: 'sekrit-value' },
              { op: 'not_contains', value: 'cwd=/work' },
              { op: 'contains', value: 'HOME=' },
            ],
          }),
        ],
      });
      expect(r).toMatchObject({ passed: true });
      expect(existsSync(path.join(dir, 'pwned'))).toBe(false);
      // the output cap holds: the 200 kB of y are cut (an expectation sees at most the cap)
      const [capped] = await runCliChecks({
        binary: probe,
        platform: HOST,
        maxOutputBytes: 4096,
        checks: [cli({ id: 'cap', args: [], expect: [{ op: 'matches', pattern: 'y{5000}' }] })],
      });
      expect(capped?.passed).toBe(false);
    } finally {
      delete process.env.BUSDK_TEST_SECRET;
    }
    const after = readdirSync(os.tmpdir()).filter((n) => n.startsWith('busdk-smoke-'));
    expect(after.filter((n) => !before.includes(n))).toEqual([]);
  });

  it('reports a binary that cannot run as a failed check', async () => {
    const notExec = path.join(dir, 'garbage');
    writeFileSync(notExec, Buffer.from([0, 1, 2, 3, 4, 5]));
    const [r] = await runCliChecks({ binary: notExec, platform: HOST, checks: [kmToMiles], sandbox: 'none' });
    expect(r?.passed).toBe(false);
  });
});
