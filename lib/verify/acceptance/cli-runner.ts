import { type CheckOutcome, clipDetail } from '../../domain/acceptance.ts';
import { cliCheckProblems } from '../../domain/acceptance-eval.ts';
import { runSandboxed, sandboxEnv, sandboxFor, withScratchCopy } from '../smoke-binary.ts';
import type { CliChecksInput, RunCliChecks } from './types.ts';

/** Default cap per output stream of one check. */
export const DEFAULT_CHECK_OUTPUT_BYTES = 64 * 1024;

/**
 * The local CLI check runner: runs the binary once per check, exactly as the binary smoke does
 * (lib/verify/smoke-binary.ts): an executable copy in a fresh scratch directory (the working
 * directory, removed afterwards), the argument array with no shell, only `PATH` and `HOME` in the
 * environment, no network (a network namespace, else unreachable proxies), the check's timeout
 * with the whole process group killed, and each stream cut at the cap. The check's standard input
 * is piped in (else /dev/null). Each run is judged with {@link cliCheckProblems}; the outcome's
 * detail is the problems (expected vs. got), clipped.
 */
export const runCliChecks: RunCliChecks = async (input: CliChecksInput): Promise<CheckOutcome[]> => {
  const sandbox = await sandboxFor(input.sandbox);
  const maxOutputBytes = input.maxOutputBytes ?? DEFAULT_CHECK_OUTPUT_BYTES;
  const outcomes: CheckOutcome[] = [];
  for (const check of input.checks) {
    const started = performance.now();
    const run = await withScratchCopy(
      input.binary,
      (bin, scratch) =>
        runSandboxed([...sandbox.prefix, bin, ...check.args], {
          cwd: scratch,
          env: sandboxEnv(sandbox, scratch),
          timeoutMs: check.timeoutMs,
          maxOutputBytes,
          ...(check.stdin !== undefined && { stdin: check.stdin }),
          ...(input.runAs && { runAs: input.runAs }),
        }),
      input.runAs,
    );
    const problems = cliCheckProblems(check, {
      exitCode: run.exitCode,
      stdout: run.stdout,
      stderr: run.stderr,
      timedOut: run.timedOut,
      ...(run.spawnError !== undefined && { error: run.spawnError }),
    });
    outcomes.push(cliOutcome(check.id, input.platform, problems, performance.now() - started));
  }
  return outcomes;
};

/** A cli outcome from the problems found (empty: passed). */
export function cliOutcome(id: string, ranOn: string, problems: string[], ms: number): CheckOutcome {
  return {
    id,
    kind: 'cli',
    passed: problems.length === 0,
    ranOn: ranOn.slice(0, 40),
    durationMs: Math.max(0, Math.round(ms)),
    ...(problems.length > 0 && { detail: clipDetail(problems.join('; '), 2_000) }),
  };
}
