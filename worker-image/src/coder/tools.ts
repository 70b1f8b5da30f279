import { constants } from 'node:fs';
import { lchown, lstat, mkdir, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ToolCall, ToolSpec } from '../../../lib/ai/model.ts';
import { looksLikeGoSource, SOURCE_MAP_COMMENT } from '../../../lib/verify/source-policy.ts';
import { failureReport, headAndTail } from '../command-report.ts';
import { type CommandSandbox, sandboxEnv } from '../command-user.ts';
import { secretValues, WorkerLog } from '../log.ts';
import { describeFailure, runCommand } from '../run-commands.ts';
import {
  type CoderProgress,
  ProgressRefusal,
  parseProgressReport,
  progressSentence,
  progressToolSpec,
  REPORT_PROGRESS_TOOL,
} from './progress-report.ts';

/**
 * The model-driven coder's tools, confined to one worktree. Every path the model names is a
 * relative POSIX path checked segment by segment (no absolute paths, `..`, `.`, NUL, backslashes,
 * hidden names); every existing component is `lstat`ed and a symbolic link anywhere on the way is
 * refused — links are never followed and never created. Writes go only where AGENTS.md allows
 * (`tool/`, `web/`, `app.json`), with size caps per file and per attempt. The only commands are
 * the template's own test and build commands from the worker profile, with the worker's
 * allow-listed environment, a timeout and truncated output. `finish` takes a short summary that
 * must read as a customer-safe sentence (no paths, no code).
 */

export interface ToolLimits {
  /** Largest file written (bytes, UTF-8). */
  maxWriteBytes: number;
  /** All bytes written during one attempt together. */
  maxTotalWriteBytes: number;
  /** Distinct files written or deleted during one attempt. */
  maxFilesWritten: number;
  /** Largest part of a file returned by read_file. */
  maxReadBytes: number;
  /** Entries returned by list_files. */
  maxListEntries: number;
  /** Characters of command output returned to the model. */
  maxCommandOutputChars: number;
  /** Timeout of one test or build command (further bounded by the wall-time budget). */
  commandTimeoutMs: number;
}

export const DEFAULT_TOOL_LIMITS: Readonly<ToolLimits> = Object.freeze({
  maxWriteBytes: 128 * 1024,
  maxTotalWriteBytes: 2 * 1024 * 1024,
  maxFilesWritten: 64,
  maxReadBytes: 64 * 1024,
  maxListEntries: 400,
  maxCommandOutputChars: 6000,
  commandTimeoutMs: 10 * 60 * 1000,
});

export const MAX_SUMMARY_CHARS = 240;

export interface WorktreeToolsOptions {
  /** Absolute real path of the worktree. */
  worktree: string;
  testCommands: readonly (readonly string[])[];
  buildCommands: readonly (readonly string[])[];
  /** Environment of the test/build commands (the worker's allow-list, `commandEnv`). */
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  limits?: Partial<ToolLimits>;
  /** Milliseconds left in the attempt's wall-time budget (bounds each command's timeout). */
  remainingMs?: () => number;
  /**
   * `COMMAND_USER`: the commands run as this user (its HOME/TMPDIR), and every file or folder a
   * tool creates (as root) is handed to it, so the user's build can replace and clean it.
   */
  sandbox?: CommandSandbox;
  /** The approved spec's features (`report_progress` names them by number). */
  features?: readonly string[];
  /** Where accepted `report_progress` reports go (the worker rate-limits and records them). */
  progress?: (report: CoderProgress) => void;
  /** Appended to a passing `run_build` result (e.g. which platforms this build made). */
  buildNote?: string;
  /**
   * `run_checks`: the gate's checks on the current `dist/` (worker-image/src/coder/run-checks.ts).
   * Offered only when set (the spec has acceptance checks).
   */
  runChecks?: () => Promise<{ passed: boolean; lines: string[] }>;
}

export interface ToolOutcome {
  content: string;
  isError: boolean;
  /** Set by an accepted `finish`. */
  finished?: { summary: string };
}

/** A refusal or bad input: becomes an error tool result the model can react to. */
export class ToolRefusal extends Error {}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const MAX_PATH_CHARS = 240;
const MAX_DEPTH = 6;
/** Never listed or read. */
const HIDDEN_ROOTS = new Set(['.git']);
/** Skipped by list_files (still readable where useful). */
const UNLISTED_ROOTS = new Set(['.git', 'dist']);
const WEB_TEXT_EXTENSIONS = new Set([
  '.html',
  '.css',
  '.js',
  '.json',
  '.svg',
  '.txt',
  '.csv',
  '.webmanifest',
]);
const TOOL_EXTENSIONS = new Set(['.go']);
const TOOL_TESTDATA_EXTENSIONS = new Set(['.txt', '.json', '.csv', '.golden']);

/** Relative POSIX path → validated segments, or a refusal saying why. */
export function parseWorktreePath(value: unknown, opts: { allowRoot?: boolean } = {}): string[] {
  if (typeof value !== 'string') throw new ToolRefusal('path must be a string');
  if (value.length > MAX_PATH_CHARS) throw new ToolRefusal('path is too long');
  if (value.includes('\0')) throw new ToolRefusal('path contains a NUL character');
  if (value.includes('\\')) throw new ToolRefusal('path contains a backslash; use forward slashes');
  if (value.startsWith('/') || /^[A-Za-z]:/.test(value) || value.startsWith('~')) {
    throw new ToolRefusal('absolute paths are refused; use a path relative to the repository root');
  }
  const trimmed = value.replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.') {
    if (opts.allowRoot) return [];
    throw new ToolRefusal('path is empty');
  }
  const segments = trimmed.split('/');
  if (segments.length > MAX_DEPTH) throw new ToolRefusal('path is too deep');
  for (const segment of segments) {
    if (segment === '..') throw new ToolRefusal('path escapes the repository (..)');
    if (segment === '' || segment === '.') throw new ToolRefusal('path has an empty or "." segment');
    if (!SEGMENT.test(segment)) {
      throw new ToolRefusal(
        `path segment "${segment.slice(0, 40)}" is not allowed (letters, digits, . _ - only; no hidden names)`,
      );
    }
  }
  if (HIDDEN_ROOTS.has(segments[0]!)) throw new ToolRefusal('that folder is not accessible');
  return segments;
}

/** Where AGENTS.md allows writes; a refusal otherwise. */
export function writePolicyProblem(segments: readonly string[]): string | undefined {
  const rel = segments.join('/');
  if (rel === 'app.json') return undefined;
  const [root, ...rest] = segments;
  const ext = path.posix.extname(rel).toLowerCase();
  if (root === 'tool' && rest.length > 0) {
    if (rest.length === 1 && TOOL_EXTENSIONS.has(ext)) return undefined;
    if (rest[0] === 'testdata' && rest.length >= 2 && TOOL_TESTDATA_EXTENSIONS.has(ext)) return undefined;
    return 'in tool/ only Go files (tool/*.go) and tool/testdata/ data files may be written';
  }
  if (root === 'web' && rest.length > 0) {
    if (WEB_TEXT_EXTENSIONS.has(ext)) return undefined;
    return `in web/ only ${[...WEB_TEXT_EXTENSIONS].join(' ')} files may be written`;
  }
  return 'only tool/, web/ and app.json may be changed (AGENTS.md); the frame, tools/, internal/, go.mod and main.go are fixed';
}

/** Content rules for files the customer receives (web/): no source code, no source maps. */
export function webContentProblem(content: string): string | undefined {
  if (looksLikeGoSource(content)) {
    return 'web files are delivered to the customer and must not contain source code';
  }
  if (SOURCE_MAP_COMMENT.test(content)) return 'source map references are not allowed in web files';
  return undefined;
}

const SUMMARY_PATH =
  /(?:^|[\s(])(?:\.{0,2}\/|~\/)|[\w-]+\/[\w.-]+|\\|\b[\w-]+\.(?:go|js|ts|css|html?|json|mod|sum|md|sh|py|txt|exe)\b/i;
const SUMMARY_CODE = /[`{}<>]|\b(?:func|package|import|const|var|return)\s/;

/** A customer-safe one-line summary, or a problem the model must fix. */
export function summaryProblem(summary: unknown): string | undefined {
  if (typeof summary !== 'string') return 'summary must be a string';
  const text = summary.trim();
  if (text.length < 3) return 'summary is empty';
  if (text.length > MAX_SUMMARY_CHARS) return `summary must be at most ${MAX_SUMMARY_CHARS} characters`;
  if (/[\p{Cc}\u2028\u2029]/u.test(text)) return 'summary must be one line of plain text';
  if (SUMMARY_PATH.test(text)) return 'summary must not mention paths or file names';
  if (SUMMARY_CODE.test(text)) return 'summary must not contain code';
  if (/https?:|www\./i.test(text)) return 'summary must not contain links';
  return undefined;
}

export const TOOL_SPECS: readonly ToolSpec[] = Object.freeze([
  {
    name: 'list_files',
    description:
      'List the files of the repository (recursively) below a folder, with their sizes. Paths are relative to the repository root.',
    inputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string', description: 'Folder relative to the repository root; "." for all.' },
      },
      additionalProperties: false,
    },
  },
  {
    name: 'read_file',
    description: 'Read a text file of the repository (relative path).',
    inputSchema: {
      type: 'object',
      properties: { path: { type: 'string' } },
      required: ['path'],
      additionalProperties: false,
    },
  },
  {
    name: 'write_file',
    description:
      'Create or replace a whole text file. Allowed: tool/*.go, tool/testdata/*, web/* (html, css, js, json, svg, txt) and app.json. Everything else is the fixed frame.',
    inputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string' },
        content: { type: 'string', description: 'The complete new file content.' },
      },
      required: ['path', 'content'],
      additionalProperties: false,
    },
  },
  {
    name: 'edit_file',
    description:
      'Replace exactly one occurrence of old_text with new_text in a file you may write (same places as write_file). old_text must occur exactly once: include enough surrounding lines to make it unique. Cheaper than write_file for small changes.',
    inputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string' },
        old_text: { type: 'string', description: 'The exact text to replace (whitespace matters).' },
        new_text: { type: 'string', description: 'The replacement (may be empty).' },
      },
      required: ['path', 'old_text', 'new_text'],
      additionalProperties: false,
    },
  },
  {
    name: 'delete_file',
    description: 'Delete a file you may write (e.g. an obsolete test in tool/).',
    inputSchema: {
      type: 'object',
      properties: { path: { type: 'string' } },
      required: ['path'],
      additionalProperties: false,
    },
  },
  {
    name: 'run_tests',
    description: "Run the template's test commands (go vet ./..., go test ./...) and return their result.",
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  },
  {
    name: 'run_build',
    description:
      "Run the template's one build command (go run ./tools/build), which writes dist/, and return the build's own lines: what it built, for which platforms, and the manifest. It builds the host platform only; the worker's final build after finish makes every requested platform from the same code.",
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  },
  {
    name: 'finish',
    description:
      'Finish once run_tests and run_build pass after your last change. summary: one short plain sentence about what you built (no file names, paths, code or commands). It is stored internally (the attempt record and the commit message) and never shown to the customer.',
    inputSchema: {
      type: 'object',
      properties: { summary: { type: 'string', maxLength: MAX_SUMMARY_CHARS } },
      required: ['summary'],
      additionalProperties: false,
    },
  },
]);

/**
 * The tools offered to the model for one spec: the fixed tools above, then `report_progress`
 * (its schema names the spec's feature count), then `run_checks` when the spec has acceptance
 * checks; each has its case in {@link WorktreeTools.execute}.
 */
export function coderToolSpecs(featureCount: number, opts: { runChecks?: boolean } = {}): ToolSpec[] {
  return [...TOOL_SPECS, progressToolSpec(featureCount), ...(opts.runChecks ? [RUN_CHECKS_SPEC] : [])];
}

export const RUN_CHECKS_TOOL = 'run_checks';
const RUN_CHECKS_SPEC: ToolSpec = {
  name: RUN_CHECKS_TOOL,
  description:
    'Run what the verification gate will run on your current build (call run_build first): the render check of the web app, the --help smoke of the program for this machine, and every approved acceptance check. Returns each result with expected vs. got for failures. The gate runs them all again on the final build; a failing check fails the attempt.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
};

/**
 * The tool implementations over one worktree. One instance per attempt (it counts writes and
 * remembers whether the tests and the build passed after the last change).
 */
export class WorktreeTools {
  private readonly limits: ToolLimits;
  private readonly written = new Set<string>();
  private writtenBytes = 0;
  /** Bumped by every change; the tests/build record the generation they passed at. */
  private generation = 0;
  private testsPassedAt = -1;
  private buildPassedAt = -1;

  constructor(private readonly opts: WorktreeToolsOptions) {
    if (!path.isAbsolute(opts.worktree)) throw new Error('worktree path must be absolute');
    this.limits = { ...DEFAULT_TOOL_LIMITS, ...opts.limits };
  }

  /** Runs one tool call; never throws for anything the model can cause. */
  async execute(call: Pick<ToolCall, 'name' | 'input' | 'rawInput'>): Promise<ToolOutcome> {
    try {
      // Some OpenAI-compatible servers send empty arguments for a tool without parameters.
      const raw = call.input === undefined && !call.rawInput?.trim() ? {} : call.input;
      if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new ToolRefusal('the tool input must be a JSON object');
      }
      const input = raw as Record<string, unknown>;
      switch (call.name) {
        case 'list_files':
          return ok(await this.listFiles(input.path ?? '.'));
        case 'read_file':
          return ok(await this.readFile(input.path));
        case 'write_file':
          return ok(await this.writeFile(input.path, input.content));
        case 'edit_file':
          return ok(await this.editFile(input.path, input.old_text, input.new_text));
        case REPORT_PROGRESS_TOOL:
          return ok(this.reportProgress(input));
        case 'delete_file':
          return ok(await this.deleteFile(input.path));
        case 'run_tests':
          return await this.runCommands('tests', this.opts.testCommands);
        case 'run_build':
          return await this.runCommands('build', this.opts.buildCommands);
        case RUN_CHECKS_TOOL:
          return await this.runChecks();
        case 'finish':
          return this.finish(input.summary);
        default:
          throw new ToolRefusal(`unknown tool ${String(call.name).slice(0, 40)}`);
      }
    } catch (err) {
      if (err instanceof ToolRefusal) {
        this.opts.log(`tool ${call.name}: refused (${err.message})`);
        return { content: `Error: ${err.message}`, isError: true };
      }
      const code = (err as NodeJS.ErrnoException).code;
      this.opts.log(`tool ${call.name}: failed (${code ?? (err instanceof Error ? err.message : 'error')})`);
      return { content: `Error: the operation failed${code ? ` (${code})` : ''}`, isError: true };
    }
  }

  /** lstat every component; refuse symlinks; `undefined` for the first missing component onwards. */
  private async walk(
    segments: readonly string[],
  ): Promise<{ abs: string; kind: 'file' | 'dir' | 'missing' }> {
    let current = this.opts.worktree;
    for (let i = 0; i < segments.length; i++) {
      current = path.join(current, segments[i]!);
      const info = await lstat(current).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
        throw err;
      });
      if (!info) return { abs: path.join(this.opts.worktree, ...segments), kind: 'missing' };
      if (info.isSymbolicLink()) throw new ToolRefusal('symbolic links are never followed');
      const last = i === segments.length - 1;
      if (!last && !info.isDirectory())
        throw new ToolRefusal(`${segments.slice(0, i + 1).join('/')} is not a folder`);
      if (last) {
        if (info.isDirectory()) return { abs: current, kind: 'dir' };
        if (info.isFile()) return { abs: current, kind: 'file' };
        throw new ToolRefusal('not a regular file');
      }
    }
    return { abs: current, kind: 'dir' };
  }

  async listFiles(rawPath: unknown): Promise<string> {
    const segments = parseWorktreePath(rawPath, { allowRoot: true });
    const start = await this.walk(segments);
    if (start.kind !== 'dir')
      throw new ToolRefusal(start.kind === 'missing' ? 'no such folder' : 'not a folder');
    const lines: string[] = [];
    let truncated = false;
    const visit = async (dir: string, rel: string[]): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        if (lines.length >= this.limits.maxListEntries) {
          truncated = true;
          return;
        }
        const childRel = [...rel, entry.name];
        if (childRel.length === 1 && UNLISTED_ROOTS.has(entry.name)) continue;
        const abs = path.join(dir, entry.name);
        if (entry.isSymbolicLink()) lines.push(`${childRel.join('/')} (symbolic link, not accessible)`);
        else if (entry.isDirectory()) await visit(abs, childRel);
        else if (entry.isFile()) lines.push(`${childRel.join('/')} (${(await lstat(abs)).size} bytes)`);
      }
    };
    await visit(start.abs, segments);
    if (truncated) lines.push(`… listing stopped at ${this.limits.maxListEntries} entries`);
    return lines.length > 0 ? lines.join('\n') : '(no files)';
  }

  async readFile(rawPath: unknown): Promise<string> {
    const segments = parseWorktreePath(rawPath);
    const target = await this.walk(segments);
    if (target.kind !== 'file')
      throw new ToolRefusal(target.kind === 'missing' ? 'no such file' : 'not a file');
    const handle = await open(target.abs, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const size = (await handle.stat()).size;
      const buf = Buffer.alloc(Math.min(size, this.limits.maxReadBytes));
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      const data = buf.subarray(0, bytesRead);
      if (data.includes(0)) throw new ToolRefusal('binary file; only text files can be read');
      const text = data.toString('utf8');
      return size > bytesRead
        ? `${text}\n… (file truncated: ${size} bytes, showing the first ${bytesRead})`
        : text;
    } finally {
      await handle.close();
    }
  }

  private countWrite(rel: string, bytes: number): void {
    if (!this.written.has(rel) && this.written.size >= this.limits.maxFilesWritten) {
      throw new ToolRefusal(`at most ${this.limits.maxFilesWritten} files may be changed per attempt`);
    }
    if (this.writtenBytes + bytes > this.limits.maxTotalWriteBytes) {
      throw new ToolRefusal(`at most ${this.limits.maxTotalWriteBytes} bytes may be written per attempt`);
    }
    this.written.add(rel);
    this.writtenBytes += bytes;
  }

  async writeFile(rawPath: unknown, content: unknown): Promise<string> {
    const segments = parseWorktreePath(rawPath);
    const rel = segments.join('/');
    const policy = writePolicyProblem(segments);
    if (policy) throw new ToolRefusal(policy);
    if (typeof content !== 'string') throw new ToolRefusal('content must be a string');
    if (content.includes('\0')) throw new ToolRefusal('content contains a NUL character');
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > this.limits.maxWriteBytes)
      throw new ToolRefusal(`file is larger than ${this.limits.maxWriteBytes} bytes`);
    if (segments[0] === 'web') {
      const problem = webContentProblem(content);
      if (problem) throw new ToolRefusal(problem);
    }
    if (rel === 'app.json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(content);
      } catch {
        throw new ToolRefusal('app.json must be valid JSON');
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new ToolRefusal('app.json must be a JSON object');
    }
    // Create missing parent folders one by one, refusing symlinks on the way.
    let current = this.opts.worktree;
    for (const segment of segments.slice(0, -1)) {
      current = path.join(current, segment);
      const info = await lstat(current).catch(() => undefined);
      if (!info) {
        await mkdir(current);
        if (this.opts.sandbox) await lchown(current, this.opts.sandbox.uid, this.opts.sandbox.gid);
      } else if (info.isSymbolicLink()) throw new ToolRefusal('symbolic links are never followed');
      else if (!info.isDirectory())
        throw new ToolRefusal(`${path.relative(this.opts.worktree, current)} is not a folder`);
    }
    const target = path.join(current, segments[segments.length - 1]!);
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isSymbolicLink()) throw new ToolRefusal('symbolic links are never followed or overwritten');
    if (existing && !existing.isFile()) throw new ToolRefusal('not a regular file');
    this.countWrite(rel, bytes);
    const handle = await open(
      target,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o644,
    );
    try {
      await handle.writeFile(content, 'utf8');
      if (this.opts.sandbox) await handle.chown(this.opts.sandbox.uid, this.opts.sandbox.gid);
    } finally {
      await handle.close();
    }
    this.generation++;
    this.opts.log(`tool write_file: ${rel} (${bytes} bytes)`);
    return `Wrote ${rel} (${bytes} bytes).`;
  }

  /** Replaces the one occurrence of `oldText`; refuses a missing or ambiguous text with the count. */
  async editFile(rawPath: unknown, oldText: unknown, newText: unknown): Promise<string> {
    const segments = parseWorktreePath(rawPath);
    const rel = segments.join('/');
    const policy = writePolicyProblem(segments);
    if (policy) throw new ToolRefusal(policy);
    if (typeof oldText !== 'string' || typeof newText !== 'string')
      throw new ToolRefusal('old_text and new_text must be strings');
    if (oldText.length === 0) throw new ToolRefusal('old_text is empty; use write_file to create a file');
    const target = await this.walk(segments);
    if (target.kind !== 'file')
      throw new ToolRefusal(target.kind === 'missing' ? `no such file: ${rel}` : 'not a file');
    const current = await this.readFile(rel);
    if (current.includes('\n… (file truncated:'))
      throw new ToolRefusal('the file is too large to edit; rewrite it');
    let count = 0;
    for (let at = current.indexOf(oldText); at !== -1; at = current.indexOf(oldText, at + oldText.length))
      count++;
    if (count === 0)
      throw new ToolRefusal(
        `old_text was not found in ${rel} (0 occurrences); read the file and copy the text exactly`,
      );
    if (count > 1)
      throw new ToolRefusal(
        `old_text occurs ${count} times in ${rel}; include more surrounding text so it occurs exactly once`,
      );
    const at = current.indexOf(oldText);
    const next = current.slice(0, at) + newText + current.slice(at + oldText.length);
    const wrote = await this.writeFile(rel, next);
    return `Edited ${rel}: replaced 1 occurrence. ${wrote}`;
  }

  private reportProgress(input: Record<string, unknown>): string {
    const features = this.opts.features ?? [];
    let report: CoderProgress;
    try {
      report = parseProgressReport(input, features);
    } catch (err) {
      throw new ToolRefusal(err instanceof ProgressRefusal ? err.message : 'invalid progress report');
    }
    this.opts.progress?.(report);
    const what = 'feature' in report ? `feature ${report.feature}` : `stage ${report.stage}`;
    this.opts.log(`tool report_progress: ${what}`);
    return `Reported. The customer sees: "${progressSentence(report, features)}". Reports sent close together reach the customer together a few seconds later; a repeat is shown once.`;
  }

  async deleteFile(rawPath: unknown): Promise<string> {
    const segments = parseWorktreePath(rawPath);
    const rel = segments.join('/');
    const policy = writePolicyProblem(segments);
    if (policy) throw new ToolRefusal(policy);
    if (rel === 'app.json') throw new ToolRefusal('app.json cannot be deleted; rewrite it instead');
    const target = await this.walk(segments);
    if (target.kind !== 'file')
      throw new ToolRefusal(target.kind === 'missing' ? 'no such file' : 'not a file');
    this.countWrite(rel, 0);
    await unlink(target.abs);
    this.generation++;
    this.opts.log(`tool delete_file: ${rel}`);
    return `Deleted ${rel}.`;
  }

  private async runCommands(
    kind: 'tests' | 'build',
    commands: readonly (readonly string[])[],
  ): Promise<ToolOutcome> {
    const startGeneration = this.generation;
    const lines: string[] = [];
    for (const argv of commands) {
      const remaining = this.opts.remainingMs?.() ?? this.limits.commandTimeoutMs;
      if (remaining <= 1000) return { content: 'Error: no time is left in this attempt', isError: true };
      const log = new WorkerLog({
        secrets: secretValues(),
        echo: (line) => this.opts.log(line.slice(line.indexOf(' ') + 1)),
      });
      const sandbox = this.opts.sandbox;
      const result = await runCommand(argv, {
        cwd: this.opts.worktree,
        env: sandboxEnv(this.opts.env, sandbox),
        timeoutMs: Math.min(this.limits.commandTimeoutMs, remaining),
        log,
        killGraceMs: 2000,
        ...(sandbox && { user: { uid: sandbox.uid, gid: sandbox.gid } }),
      });
      const label = argv.join(' ');
      const output = log.redact(result.output);
      if (!result.ok) {
        lines.push(
          failureReport(`FAILED: ${describeFailure(result)}`, output, this.limits.maxCommandOutputChars),
        );
        return { content: lines.join('\n'), isError: true };
      }
      lines.push(`PASSED: ${label}`);
      // The command's own lines (what go test ran, what the build made for which platforms).
      const shown = headAndTail(output, Math.floor(this.limits.maxCommandOutputChars / 2));
      if (shown) lines.push(shown);
    }
    if (kind === 'build' && this.opts.buildNote) lines.push(this.opts.buildNote);
    if (kind === 'tests') this.testsPassedAt = startGeneration;
    else this.buildPassedAt = startGeneration;
    return ok(lines.join('\n'));
  }

  private async runChecks(): Promise<ToolOutcome> {
    if (!this.opts.runChecks) throw new ToolRefusal(`unknown tool ${RUN_CHECKS_TOOL}`);
    if (this.buildPassedAt !== this.generation) {
      throw new ToolRefusal('run_build must pass after your last change before run_checks');
    }
    const report = await this.opts.runChecks();
    this.opts.log(`tool run_checks: ${report.passed ? 'all passed' : 'some failed'}`);
    return { content: report.lines.join('\n'), isError: !report.passed };
  }

  private finish(summary: unknown): ToolOutcome {
    if (this.testsPassedAt !== this.generation || this.buildPassedAt !== this.generation) {
      throw new ToolRefusal('run_tests and run_build must both pass after your last change before finish');
    }
    const problem = summaryProblem(summary);
    if (problem) throw new ToolRefusal(problem);
    const text = (summary as string).trim();
    return { content: 'Finished.', isError: false, finished: { summary: text } };
  }
}

function ok(content: string): ToolOutcome {
  return { content, isError: false };
}
