import { parseArgs } from 'node:util';
import { RUN_ID_PATTERN } from '../domain/ids.ts';
import { PHASES, type Phase } from '../domain/phases.ts';
import { UsageError } from './errors.ts';

export const COMMAND_NAMES = [
  'runs',
  'show',
  'approve',
  'artifacts',
  'retry',
  'settle',
  'prune',
  'status',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** Options every command accepts. */
export interface GlobalOptions {
  json: boolean;
  /** Talk to AWS (ambient configuration) instead of the local stack. */
  aws: boolean;
  /** Overrides `DATA_DIR` (local target). */
  dataDir?: string;
}

export type Command =
  | { name: 'help'; topic?: CommandName }
  | { name: 'runs'; phase?: Phase; limit: number; cursor?: string; unsettled?: boolean }
  | { name: 'show' | 'approve' | 'artifacts' | 'settle'; runId: string }
  | { name: 'retry'; runId: string; noCharge?: string }
  | { name: 'prune'; olderThanDays?: number; dryRun: boolean }
  | { name: 'status' };

export interface ParsedArgs extends GlobalOptions {
  command: Command;
}

export const DEFAULT_RUNS_LIMIT = 50;
export const MAX_RUNS_LIMIT = 1000;

const OPTIONS = {
  json: { type: 'boolean' },
  aws: { type: 'boolean' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  phase: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'older-than-days': { type: 'string' },
  'dry-run': { type: 'boolean' },
  unsettled: { type: 'boolean' },
  'no-charge': { type: 'string' },
} as const;
type OptionName = keyof typeof OPTIONS;

const GLOBAL: readonly OptionName[] = ['json', 'aws', 'data-dir', 'help'];
const RUN_ID_COMMANDS = ['show', 'approve', 'artifacts', 'retry', 'settle'] as const;

interface CommandSpec {
  args: string;
  summary: string;
  options: readonly OptionName[];
  details?: string[];
}

export const COMMANDS: Record<CommandName, CommandSpec> = {
  runs: {
    args: '[--phase <phase>] [--limit N] [--cursor C] [--unsettled]',
    summary: 'List build runs, newest first (all phases, or one phase).',
    options: ['phase', 'limit', 'cursor', 'unsettled'],
    details: [
      '--unsettled       only runs whose card payment is not settled (capture/cancel open, or the hold expired)',
      `--phase <phase>   one of: ${PHASES.join(', ')}`,
      `--limit N         at most N runs (default ${DEFAULT_RUNS_LIMIT}, max ${MAX_RUNS_LIMIT})`,
      '--cursor C        continue a --phase listing after the cursor a previous page printed',
    ],
  },
  show: {
    args: '<run_id>',
    summary: 'Full internal state: branch, worker, attempts, verification, evidence, events.',
    options: [],
  },
  approve: {
    args: '<run_id>',
    summary: 'Manually authorize a quoted run and start its build (idempotent).',
    options: [],
  },
  artifacts: {
    args: '<run_id>',
    summary: 'Artifact manifest, verified artifacts and verification results of a run.',
    options: [],
  },
  retry: {
    args: '<run_id> [--no-charge <reason>]',
    summary: 'Reopen a failed run with a new attempt and a new build execution.',
    options: ['no-charge'],
    details: [
      'A card-paid run goes back to its quote: the visitor pays again (a new checkout), then it builds.',
      '--no-charge <reason>   rebuild a card-paid run without a new payment (recorded operator override)',
    ],
  },
  settle: {
    args: '<run_id>',
    summary: "Settle a finished run's card payment now: capture if verified, release if failed.",
    options: [],
  },
  prune: {
    args: '[--older-than-days N] [--dry-run]',
    summary: 'Delete build branches of runs that ended more than N days ago (default 30).',
    options: ['older-than-days', 'dry-run'],
    details: [
      '--older-than-days N   retention in days after a run ended (default 30)',
      '--dry-run             list the branches that would be deleted; delete nothing',
    ],
  },
  status: {
    args: '',
    summary: 'Readiness of the local stack and prerequisites (never prints secret values).',
    options: [],
  },
};

export function usage(topic?: CommandName): string {
  if (topic) {
    const spec = COMMANDS[topic];
    return [
      `Usage: bus-build ${topic} ${spec.args}`.trimEnd(),
      '',
      spec.summary,
      ...(spec.details?.length ? ['', ...spec.details.map((d) => `  ${d}`)] : []),
      '',
      ...globalHelp(),
    ].join('\n');
  }
  const width = Math.max(...COMMAND_NAMES.map((n) => `${n} ${COMMANDS[n].args}`.trimEnd().length));
  return [
    'Usage: bus-build <command> [options]',
    '',
    'Operator CLI of the BusDK Artifact Builder.',
    '',
    'Commands:',
    ...COMMAND_NAMES.map(
      (n) => `  ${`${n} ${COMMANDS[n].args}`.trimEnd().padEnd(width)}  ${COMMANDS[n].summary}`,
    ),
    '',
    ...globalHelp(),
    '',
    'Exit codes: 0 ok, 1 error, 2 usage error. Run `bus-build <command> --help` for details.',
  ].join('\n');
}

function globalHelp(): string[] {
  return [
    'Options:',
    '  --json            machine-readable JSON on stdout',
    '  --aws             use the ambient AWS configuration (or BUS_BUILD_TARGET=aws)',
    '  --data-dir DIR    local data dir (default: $DATA_DIR or .data)',
    '  -h, --help        show help',
  ];
}

function positiveInt(name: string, value: string, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a positive whole number`);
  const n = Number(value);
  if (n < 1 || n > max) throw new UsageError(`--${name} must be between 1 and ${max}`);
  return n;
}

/** Parses `argv` (without node and script). Throws UsageError for anything it cannot run. */
export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  const { values, positionals } = rawParse(argv);
  const global: GlobalOptions = {
    json: values.json ?? false,
    aws: values.aws ?? false,
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
  };
  if (global.dataDir === '') throw new UsageError('--data-dir must not be empty');

  const [first, ...rest] = positionals;
  if (first === undefined || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !isCommandName(topic)) throw new UsageError(`unknown command '${topic}'`);
    if (first === undefined && !values.help) throw new UsageError('no command given');
    return { ...global, command: { name: 'help', ...(topic ? { topic } : {}) } };
  }
  if (!isCommandName(first)) throw new UsageError(`unknown command '${first}'`);
  const name = first;
  if (values.help) return { ...global, command: { name: 'help', topic: name } };

  const allowed = new Set<OptionName>([...GLOBAL, ...COMMANDS[name].options]);
  for (const option of Object.keys(values) as OptionName[]) {
    if (!allowed.has(option)) throw new UsageError(`'${name}' does not take --${option}`);
  }

  if ((RUN_ID_COMMANDS as readonly string[]).includes(name)) {
    if (rest.length !== 1) throw new UsageError(`'${name}' needs exactly one <run_id>`);
    const runId = rest[0]!;
    if (!RUN_ID_PATTERN.test(runId)) throw new UsageError(`'${runId}' is not a build run id (run_…)`);
    if (name === 'retry') {
      const noCharge = values['no-charge'];
      if (noCharge !== undefined && !noCharge.trim())
        throw new UsageError('--no-charge needs a reason (it is recorded on the run)');
      return {
        ...global,
        command: { name, runId, ...(noCharge !== undefined && { noCharge: noCharge.trim() }) },
      };
    }
    return {
      ...global,
      command: { name: name as Exclude<(typeof RUN_ID_COMMANDS)[number], 'retry'>, runId },
    };
  }
  if (rest.length > 0) throw new UsageError(`'${name}' takes no arguments (got '${rest[0]}')`);

  switch (name) {
    case 'runs': {
      const phase = values.phase;
      if (phase !== undefined && !(PHASES as readonly string[]).includes(phase))
        throw new UsageError(`--phase must be one of: ${PHASES.join(', ')}`);
      if (values.cursor !== undefined && phase === undefined)
        throw new UsageError('--cursor needs --phase (it continues a one-phase listing)');
      return {
        ...global,
        command: {
          name,
          limit:
            values.limit !== undefined
              ? positiveInt('limit', values.limit, MAX_RUNS_LIMIT)
              : DEFAULT_RUNS_LIMIT,
          ...(phase !== undefined ? { phase: phase as Phase } : {}),
          ...(values.cursor !== undefined ? { cursor: values.cursor } : {}),
          ...(values.unsettled ? { unsettled: true } : {}),
        },
      };
    }
    case 'prune': {
      const raw = values['older-than-days'];
      let olderThanDays: number | undefined;
      if (raw !== undefined) {
        if (!/^\d+(\.\d+)?$/.test(raw))
          throw new UsageError('--older-than-days must be a non-negative number');
        olderThanDays = Number(raw);
      }
      return {
        ...global,
        command: {
          name,
          dryRun: values['dry-run'] ?? false,
          ...(olderThanDays !== undefined ? { olderThanDays } : {}),
        },
      };
    }
    default:
      return { ...global, command: { name: 'status' } };
  }
}

function rawParse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'invalid arguments');
  }
}

function isCommandName(value: string): value is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(value);
}
