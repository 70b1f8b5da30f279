import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiClient, ApiResponse } from './harness.ts';

/**
 * Helpers for the end-to-end pipeline test (test/integration/pipeline.test.ts) and the benchmark
 * (test/bench/run.ts): the operator CLI as a child process, raw HTTP requests (no URL
 * normalisation, for traversal probes), the chat to a quote, and the event long-poll loop.
 * No vitest imports: the benchmark runs this outside vitest.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI_ENTRY = join(REPO_ROOT, 'bin', 'bus-build.ts');

/** One Go build cache for every test stack, so repeated runs are warm (`GOCACHE` wins). */
export function sharedGoCache(): string {
  return process.env.GOCACHE || join(tmpdir(), 'busdk-test-gocache');
}

export interface PublicArtifact {
  artifact_id: string;
  kind: string;
  name: string;
  platform: string | null;
  size_bytes: number;
  sha256: string;
  preview: boolean;
  download_url?: string | null;
  preview_url?: string | null;
}
export interface PublicRun {
  run_id: string;
  phase: string;
  status_message: string;
  artifact_type: string | null;
  scope: { title: string; summary: string; features: string[]; platforms: string[] } | null;
  quote: { amount_cents: number; currency: string } | null;
  artifacts: PublicArtifact[];
  created_at: string;
  updated_at: string;
}
export interface PublicEvent {
  seq: number;
  type: string;
  at: string;
  message: string;
  phase?: string;
}
export interface EventsBody {
  events: PublicEvent[];
  next_after: number;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `bus-build <args>` as a child process against the local stack of `dataDir`. */
export function busBuild(dataDir: string, ...args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_') || k === 'BUS_BUILD_TARGET') delete env[k];
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(TSX, [CLI_ENTRY, ...args], { env, cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - started });
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** GET with the path sent byte for byte (fetch/URL would resolve `..` and `%2e%2e` first). */
export function rawGet(base: string, rawPath: string): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: rawPath, method: 'GET', headers: { host: u.host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Creates a run and chats (answering the web/binary question) until it is quoted. */
export async function chatToQuote(
  client: ApiClient,
  messages: readonly string[],
  /** The stack's data dir: its outbox holds the contact confirmation code. */
  dataDir: string,
): Promise<{ runId: string; run: PublicRun; replies: string[] }> {
  const created = await client.post<{ run: PublicRun }>('/api/v1/build-runs', {});
  if (created.status !== 201) throw new Error(`create run: ${created.status} ${created.text}`);
  const runId = created.body.run.run_id;
  let run = created.body.run;
  const replies: string[] = [];
  for (const text of messages) {
    const res = await client.post<{ run: PublicRun; reply: { text: string } }>(
      `/api/v1/build-runs/${runId}/messages`,
      { text },
    );
    if (res.status !== 200) throw new Error(`message: ${res.status} ${res.text}`);
    run = res.body.run;
    replies.push(res.body.reply.text);
    if (run.phase === 'quoted') break;
  }
  if (run.phase === 'quoted') {
    // The chat asks for a contact email at the quote; an authorized run always has one its owner
    // confirmed with the code mailed to it (the local outbox).
    const outbox = join(dataDir, 'outbox');
    const before = new Set(await readdir(outbox).catch(() => []));
    const c = await client.post<{ run: PublicRun }>(`/api/v1/build-runs/${runId}/contact`, {
      email: 'visitor@example.org',
    });
    if (c.status !== 200) throw new Error(`contact: ${c.status} ${c.text}`);
    const code = await confirmationCode(outbox, before);
    const confirmed = await client.post<{ run: PublicRun }>(`/api/v1/build-runs/${runId}/contact/confirm`, {
      code,
    });
    if (confirmed.status !== 200) throw new Error(`confirm contact: ${confirmed.status} ${confirmed.text}`);
    run = confirmed.body.run ?? run;
  }
  return { runId, run, replies };
}

/** The code of the confirmation mail that arrived in the outbox after `before` was listed. */
export async function confirmationCode(outbox: string, before: Set<string>): Promise<string> {
  for (const name of (await readdir(outbox)).filter((f) => f.startsWith('mail-') && !before.has(f))) {
    const mail = JSON.parse(await readFile(join(outbox, name), 'utf8')) as { subject: string };
    const code = /^Confirm.*\b(\d{6})$/.exec(mail.subject)?.[1];
    if (code) return code;
  }
  throw new Error('no contact confirmation mail in the outbox');
}

export const TERMINAL_EVENTS = new Set(['bus.build.artifact.verified', 'bus.build.run.failed']);

/**
 * Long-polls `GET …/events?after=N&wait=10` until one of `until` arrives (or the deadline);
 * returns every event seen, in order, and each response.
 */
export async function pollEvents(
  client: ApiClient,
  runId: string,
  opts: { after?: number; until?: ReadonlySet<string>; timeoutMs: number },
): Promise<{ events: PublicEvent[]; next: number; terminal: PublicEvent | undefined }> {
  const until = opts.until ?? TERMINAL_EVENTS;
  const deadline = Date.now() + opts.timeoutMs;
  const events: PublicEvent[] = [];
  let after = opts.after ?? 0;
  while (Date.now() < deadline) {
    const res: ApiResponse<EventsBody> = await client.get<EventsBody>(
      `/api/v1/build-runs/${runId}/events?after=${after}&wait=10`,
    );
    if (res.status !== 200) throw new Error(`events: ${res.status} ${res.text}`);
    events.push(...res.body.events);
    after = res.body.next_after;
    const terminal = res.body.events.find((e) => until.has(e.type));
    if (terminal) return { events, next: after, terminal };
  }
  return { events, next: after, terminal: undefined };
}
