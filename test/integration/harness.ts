import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/**
 * Integration-test helpers: the real local stack (`lib/local/start.ts`, exactly what `npm start`
 * runs) in a child process on ephemeral ports with a temporary data dir, and a small fetch client
 * with a per-session cookie jar and optional bearer token.
 */

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface TestStack {
  url: string;
  dynamoUrl: string;
  s3Url: string;
  /** The local Step Functions endpoint (`AWS_ENDPOINT_URL_SFN` for clients). */
  sfnUrl: string;
  /** The preview origin (a separate origin from `url`). */
  previewUrl: string;
  dataDir: string;
  /** The stack process's id. */
  pid: number;
  /** The stack process (its IPC channel is open when started with `ipc: true`). */
  child: ChildProcess;
  /** Everything the stack wrote to stdout/stderr so far (for failure messages). */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code (0 = clean shutdown). */
  stop(): Promise<number | null>;
  /** stop() and delete the data dir when the harness created it. */
  dispose(): Promise<void>;
}

export interface TestStackOptions {
  /** Reuse a data dir (e.g. to test a restart); default: a fresh temp dir, deleted by dispose(). */
  dataDir?: string;
  /** Extra environment for the stack process. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** Node options before `--import tsx` (e.g. `--expose-gc`). */
  nodeArgs?: string[];
  /** Modules the stack process imports before `lib/local/start.ts` (e.g. the bench's memory probe). */
  preload?: string[];
  /** Open an IPC channel to the stack process (`TestStack.child.send`). */
  ipc?: boolean;
}

export function makeTempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'bus-build-it-'));
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const ownsDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? makeTempDataDir();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_') || k === 'SESSION_SECRET') delete env[k];
  Object.assign(env, {
    PORT: '0',
    DYNAMO_PORT: '0',
    S3_PORT: '0',
    SFN_PORT: '0',
    PREVIEW_PORT: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...opts.env,
  });
  const preload = (opts.preload ?? []).flatMap((m) => ['--import', m]);
  const args = [...(opts.nodeArgs ?? []), '--import', 'tsx', ...preload, 'lib/local/start.ts'];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  }) as ChildProcessByStdio<null, Readable, Readable>;
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const readyPromise = new Promise<Record<string, string>>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`local stack did not start in time:\n${out}`)),
      opts.startTimeoutMs ?? 60_000,
    );
    child.stdout.on('data', (d: string) => {
      out += d;
      buffered += d;
      let nl = buffered.indexOf('\n');
      while (nl !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
        if (!line.startsWith('{')) continue;
        try {
          const parsed = JSON.parse(line) as Record<string, string>;
          if (parsed.message === 'local stack ready') {
            clearTimeout(timer);
            resolve(parsed);
          }
        } catch {
          // not a JSON log line
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new StackExitError(code, out));
    });
  });
  let ready: Record<string, string>;
  try {
    ready = await readyPromise;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  let stopped: Promise<number | null> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    })();
    return stopped;
  };
  return {
    url: ready.url!,
    dynamoUrl: ready.dynamoUrl!,
    s3Url: ready.s3Url!,
    sfnUrl: ready.sfnUrl!,
    previewUrl: ready.previewUrl!,
    dataDir,
    pid: child.pid!,
    child,
    output: () => out,
    stop,
    async dispose() {
      await stop();
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The stack process exited before it was ready (e.g. a port in use); carries its output. */
export class StackExitError extends Error {
  constructor(
    readonly code: number | null,
    readonly output: string,
  ) {
    super(`local stack exited with code ${code} before it was ready:\n${output}`);
  }
}

/** Runs `lib/local/start.ts` expecting it to fail; resolves with its exit code and output. */
export async function runStackExpectingFailure(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  try {
    const stack = await startTestStack({ env });
    await stack.dispose();
    throw new Error('the local stack started but was expected to fail');
  } catch (err) {
    if (err instanceof StackExitError) return { code: err.code, output: err.output };
    throw err;
  }
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON body (undefined when the body is not JSON). */
  body: T;
  text: string;
  setCookies: string[];
}

export interface RequestOptions {
  json?: unknown;
  /** Raw body (sent as-is with `contentType`, default application/json). */
  body?: string | Uint8Array<ArrayBuffer>;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * One visitor: a cookie jar (Set-Cookie in, Cookie out) and optionally a bearer token.
 * Two instances are two independent sessions.
 */
export class ApiClient {
  readonly cookies = new Map<string, string>();
  /** Every response this client received, for whole-conversation assertions. */
  readonly responses: ApiResponse[] = [];
  bearer: string | undefined;

  constructor(
    readonly baseUrl: string,
    opts: { bearer?: string; useCookies?: boolean } = {},
  ) {
    this.bearer = opts.bearer;
    this.useCookies = opts.useCookies ?? true;
  }

  private readonly useCookies: boolean;

  get<T = unknown>(path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, opts);
  }

  post<T = unknown>(path: string, json?: unknown, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, json === undefined ? opts : { ...opts, json });
  }

  async request<T = unknown>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] ??= 'application/json';
    } else if (opts.body !== undefined) {
      body = opts.body;
      headers['content-type'] ??= opts.contentType ?? 'application/json';
    }
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    if (this.useCookies && this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');

    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: 'manual' });
    const setCookies = res.headers.getSetCookie();
    if (this.useCookies) for (const c of setCookies) this.storeCookie(c);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const out: ApiResponse<T> = {
      status: res.status,
      headers: res.headers,
      body: parsed as T,
      text,
      setCookies,
    };
    this.responses.push(out);
    return out;
  }

  private storeCookie(setCookie: string): void {
    const [pair, ...attrs] = setCookie.split(';');
    const eq = pair!.indexOf('=');
    if (eq <= 0) return;
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    const expired = attrs.some((a) => {
      const [k, v] = a.trim().split('=');
      return (
        (k?.toLowerCase() === 'max-age' && Number(v) <= 0) ||
        (k?.toLowerCase() === 'expires' && Date.parse(v ?? '') < Date.now())
      );
    });
    if (expired) this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

/** Keys that must never appear in a public response. */
export const INTERNAL_KEYS = [
  'branch',
  'taskRef',
  'task_ref',
  'repo',
  'worker',
  'email',
  'sessionId',
  'pk',
  'sk',
  'gsi1pk',
  'gsi1sk',
];

/** Every object key in a JSON value, recursively. */
export function allKeys(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) allKeys(v, out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      allKeys(v, out);
    }
  return out;
}
