import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runSelfChecks, type SelfCheckRun, selfCheckLines } from './run-checks.ts';
import { readSelfCheckFile, SelfCheckFileError } from './self-check-file.ts';

/**
 * `self-check <file> [--json]`: a subcommand of the worker program for the external agent of
 * `CODER=command` — the same checks as the model coder's `run_checks` (run-checks.ts) on the
 * worktree's current `dist/`, described by a self-check file the worker wrote
 * (self-check-file.ts). Like `run_checks`, which needs a `run_build` after the last change, it
 * refuses a stale build: a source under `tool/`, `web/` or `app.json` newer than the manifest.
 * It runs as whoever starts it (the agent; with `COMMAND_USER` that user), so the model's binary
 * and page never run with more rights than the agent has.
 *
 * Prints one line per check (or one JSON document with `--json`). Exit codes:
 *
 *   0  every check passed (skipped ones aside)
 *   1  some check failed, or there is no current build
 *   2  usage or setup error (bad arguments, a missing or invalid self-check file, no worktree)
 *
 * For self-checking only: the gate runs everything again on the final build and never reads this.
 */

export const SELF_CHECK_SUBCOMMAND = 'self-check';
export const EXIT_ALL_PASSED = 0;
export const EXIT_SOME_FAILED = 1;
export const EXIT_USAGE = 2;

export const SELF_CHECK_USAGE = `usage: ${SELF_CHECK_SUBCOMMAND} <self-check file> [--json]
Runs the render check, the binary's --help smoke and the approved acceptance checks on the
worktree's current dist/ (run the build command first). Exit 0: all passed; 1: some failed;
2: usage or setup error. For self-checking only: the gate re-runs everything independently.`;

export type SelfCheckArgs = { help: true } | { help: false; file: string; json: boolean };

export class SelfCheckUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelfCheckUsageError';
  }
}

/** The subcommand's arguments (after `self-check`). */
export function parseSelfCheckArgs(argv: readonly string[]): SelfCheckArgs {
  let file: string | undefined;
  let json = false;
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--json') json = true;
    else if (arg.startsWith('-')) throw new SelfCheckUsageError(`unknown option ${arg.slice(0, 40)}`);
    else if (file !== undefined) throw new SelfCheckUsageError('only one self-check file may be given');
    else file = arg;
  }
  if (file === undefined || file === '') throw new SelfCheckUsageError('no self-check file given');
  return { help: false, file, json };
}

export interface SelfCheckIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: SelfCheckIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs the subcommand; resolves with the exit code (never throws). */
export async function runSelfCheckCommand(
  argv: readonly string[],
  io: SelfCheckIo = processIo,
): Promise<number> {
  const usage = (message: string) => {
    io.stderr(`${SELF_CHECK_SUBCOMMAND}: ${message}\n${SELF_CHECK_USAGE}\n`);
    return EXIT_USAGE;
  };
  let args: SelfCheckArgs;
  try {
    args = parseSelfCheckArgs(argv);
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  if (args.help) {
    io.stdout(`${SELF_CHECK_USAGE}\n`);
    return EXIT_ALL_PASSED;
  }
  const setupError = (message: string) => {
    io.stderr(`${SELF_CHECK_SUBCOMMAND}: ${message}\n`);
    return EXIT_USAGE;
  };
  let run: SelfCheckRun;
  try {
    const file = await readSelfCheckFile(args.file);
    const info = await stat(file.worktree).catch(() => undefined);
    if (!info?.isDirectory()) return setupError(`the worktree ${file.worktree} is not a directory`);
    const stale = await staleBuildProblem(file.worktree, file.distDir);
    run = stale
      ? {
          passed: false,
          results: [{ kind: 'build', status: 'failed', detail: stale }],
          applicableChecks: file.checks.length,
        }
      : await runSelfChecks({
          distDir: file.distDir,
          checks: file.checks,
          artifactType: file.artifactType,
          browser: file.browser,
          buildHint: 'run the build command first',
        });
  } catch (err) {
    if (err instanceof SelfCheckFileError) return setupError(err.message);
    return setupError(`the checks could not run (${err instanceof Error ? err.message : String(err)})`);
  }
  io.stdout(args.json ? `${JSON.stringify(run)}\n` : `${selfCheckLines(run).join('\n')}\n`);
  return run.passed ? EXIT_ALL_PASSED : EXIT_SOME_FAILED;
}

const SOURCE_ROOTS = ['tool', 'web', 'app.json'];
const MAX_SOURCE_ENTRIES = 10_000;

/**
 * Why `distDir` is not the build of the current sources: a file under `tool/`, `web/` or
 * `app.json` changed after the build wrote its manifest. `undefined` when it is current or there
 * is no manifest (the checks report that). Symbolic links are not followed.
 */
export async function staleBuildProblem(worktree: string, distDir: string): Promise<string | undefined> {
  const manifest = await stat(path.join(distDir, 'artifact-manifest.json')).catch(() => undefined);
  if (!manifest) return undefined;
  let seen = 0;
  const newer = async (rel: string): Promise<string | undefined> => {
    if (++seen > MAX_SOURCE_ENTRIES) return undefined;
    const info = await lstat(path.join(worktree, rel)).catch(() => undefined);
    if (!info || info.isSymbolicLink()) return undefined;
    if (info.isFile()) return info.mtimeMs > manifest.mtimeMs ? rel : undefined;
    if (!info.isDirectory()) return undefined;
    const names = await readdir(path.join(worktree, rel)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const found = await newer(`${rel}/${name}`);
      if (found) return found;
    }
    return undefined;
  };
  for (const root of SOURCE_ROOTS) {
    const found = await newer(root);
    if (found) return `${found} changed after the last build: run the build command first`;
  }
  return undefined;
}

/**
 * argv that runs the worker program itself: bundled (the image's `/app/worker.mjs`), Node and
 * the bundle; from source (the local stack, tests), Node with the tsx loader and `main.ts`.
 * `moduleUrl`: this module's URL (tests pass another).
 */
export function workerProgramArgv(moduleUrl: string = import.meta.url): string[] {
  const file = fileURLToPath(moduleUrl);
  if (!/\.[cm]?ts$/.test(file)) return [process.execPath, file];
  const root = path.resolve(path.dirname(file), '../../..');
  return [
    process.execPath,
    '--import',
    pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
    path.join(root, 'worker-image/src/main.ts'),
  ];
}

/** The exact argv an agent runs to self-check with `file`. */
export function selfCheckArgv(program: readonly string[], file: string): string[] {
  return [...program, SELF_CHECK_SUBCOMMAND, file];
}
