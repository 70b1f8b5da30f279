import { userInfo } from 'node:os';
import { DomainError } from '../domain/errors.ts';
import { type Command, type ParsedArgs, parseCliArgs, usage } from './args.ts';
import { approveCommand } from './commands/approve.ts';
import { artifactsCommand } from './commands/artifacts.ts';
import { pruneCommand } from './commands/prune.ts';
import { retryCommand } from './commands/retry.ts';
import { runsCommand } from './commands/runs.ts';
import { settleCommand } from './commands/settle.ts';
import { showCommand } from './commands/show.ts';
import { statusCommand } from './commands/status.ts';
import { CliError, EXIT, probeError, UsageError } from './errors.ts';
import type { CommandResult } from './output.ts';
import { connect, resolveTarget, type Target } from './target.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The process environment (the AWS SDK reads `process.env`; the CLI writes endpoints there). */
  env: NodeJS.ProcessEnv;
  cwd: string;
  now: () => Date;
}

export function processIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    stderr: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
  };
}

/** `probeError` reasons that mean the backend could not be reached at all. */
const UNREACHABLE = new Set([
  'connection refused',
  'host not found',
  'timed out',
  'ECONNRESET',
  'EHOSTUNREACH',
]);

/** The actor recorded on operator events: `cli:<os user>`. */
export function operatorActor(env: NodeJS.ProcessEnv): string {
  let name = env.BUS_BUILD_OPERATOR || env.USER || env.LOGNAME;
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = 'operator';
    }
  }
  return `cli:${name}`.slice(0, 100);
}

async function dispatch(
  cmd: Exclude<Command, { name: 'help' }>,
  target: Target,
  io: CliIo,
): Promise<CommandResult> {
  if (cmd.name === 'status') return statusCommand(target, io.env);
  const conn = connect(target, io.env);
  const actor = { actor: operatorActor(io.env), now: io.now };
  switch (cmd.name) {
    case 'runs':
      return runsCommand(conn, cmd);
    case 'show':
      return showCommand(conn, cmd.runId);
    case 'artifacts':
      return artifactsCommand(conn, cmd.runId);
    case 'approve':
      return approveCommand(conn, cmd.runId, actor);
    case 'retry':
      return retryCommand(conn, cmd.runId, {
        ...actor,
        ...(cmd.noCharge !== undefined && { noCharge: cmd.noCharge }),
      });
    case 'settle':
      return settleCommand(conn, cmd.runId, { env: io.env, now: io.now });
    case 'prune':
      return pruneCommand(conn, cmd, { now: io.now });
  }
}

/** A message for the operator; never a stack trace (set BUS_BUILD_DEBUG=1 for one). */
function describe(err: unknown, target: Target | undefined): string {
  if (err instanceof CliError || err instanceof DomainError) return err.message;
  const reason = probeError(err);
  if (UNREACHABLE.has(reason)) {
    return target?.kind === 'local'
      ? `Cannot reach the local stack (${reason}). Is \`npm start\` still running?`
      : `Cannot reach AWS (${reason}).`;
  }
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
}

/** Runs the CLI; returns the exit code (0 ok, 1 error, 2 usage error). */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`bus-build: ${err.message}\nRun 'bus-build --help' for usage.`);
    return EXIT.usage;
  }
  const command = args.command;
  if (command.name === 'help') {
    io.stdout(usage(command.topic));
    return EXIT.ok;
  }
  let target: Target | undefined;
  try {
    target = await resolveTarget({ env: io.env, cwd: io.cwd, aws: args.aws, dataDir: args.dataDir });
    const result = await dispatch(command, target, io);
    io.stdout(args.json ? JSON.stringify(result.data, null, 2) : result.text);
    return result.exitCode ?? EXIT.ok;
  } catch (err) {
    io.stderr(`bus-build: ${describe(err, target)}`);
    if (io.env.BUS_BUILD_DEBUG && err instanceof Error && err.stack) io.stderr(err.stack);
    return EXIT.error;
  }
}
