/** In-memory fakes of the orchestrator's ports, shared by the orchestrator unit tests. */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type {
  ArtifactStore,
  BucketRole,
  DownloadLimits,
  DownloadResult,
  ObjectInfo,
} from '../../lib/app/orchestrator/ports.ts';
import type { ExecutionStarter } from '../../lib/app/start-execution.ts';
import { safeRelative } from '../../lib/aws/artifact-store.ts';
import { ConflictError } from '../../lib/domain/errors.ts';
import { type BuildEvent, BuildEventSchema, type NewBuildEvent } from '../../lib/domain/events.ts';
import { newBuildRun, transition } from '../../lib/domain/lifecycle.ts';
import type { Phase } from '../../lib/domain/phases.ts';
import type { EventPublisher, IdempotencyLease, RunStore } from '../../lib/domain/ports.ts';
import { type BuildRun, BuildRunSchema, type Message } from '../../lib/domain/run.ts';

export class MemoryRunStore implements RunStore {
  runs = new Map<string, BuildRun>();
  events = new Map<string, BuildEvent[]>();
  /** The commit tag of each stored event, by run id and sequence number. */
  commits = new Map<string, string>();
  saves = 0;
  /** Called before each conditional save (to simulate a concurrent writer). */
  beforeSave?: (next: BuildRun) => Promise<void> | void;

  async createRun(run: BuildRun): Promise<void> {
    if (this.runs.has(run.runId)) throw new Error('exists');
    this.runs.set(run.runId, structuredClone(BuildRunSchema.parse(run)));
  }
  async getRun(runId: string): Promise<BuildRun | undefined> {
    const run = this.runs.get(runId);
    return run ? structuredClone(run) : undefined;
  }
  async saveRun(next: BuildRun, expected: { phase: Phase; version: number }): Promise<void> {
    await this.beforeSave?.(next);
    const cur = this.runs.get(next.runId);
    if (!cur || cur.phase !== expected.phase || cur.version !== expected.version) throw new ConflictError();
    this.saves++;
    this.runs.set(next.runId, structuredClone(BuildRunSchema.parse(JSON.parse(JSON.stringify(next)))));
  }
  async appendMessage(_m: Message): Promise<void> {}
  async listMessages(): Promise<Message[]> {
    return [];
  }
  async appendEvent(runId: string, event: NewBuildEvent, at = new Date().toISOString()): Promise<BuildEvent> {
    const list = this.events.get(runId) ?? [];
    const full = BuildEventSchema.parse({ ...event, runId, seq: list.length + 1, at });
    list.push(full);
    this.events.set(runId, list);
    return full;
  }
  async appendEvents(runId: string, events: NewBuildEvent[], opts: { commit?: string } = {}) {
    const out: BuildEvent[] = [];
    for (const e of events) {
      const full = await this.appendEvent(runId, e);
      if (opts.commit) this.commits.set(`${runId}#${full.seq}`, opts.commit);
      out.push(full);
    }
    return out;
  }
  async countCommitEvents(runId: string, commit: string, since: string): Promise<number> {
    return (this.events.get(runId) ?? []).filter(
      (e) => e.at >= since && this.commits.get(`${runId}#${e.seq}`) === commit,
    ).length;
  }
  async listEvents(runId: string, after: number, limit: number) {
    const events = (this.events.get(runId) ?? []).filter((e) => e.seq > after).slice(0, limit);
    return { events, lastSeq: events.at(-1)?.seq ?? after };
  }
  async listRunsByPhase(phase: Phase) {
    return { runs: [...this.runs.values()].filter((r) => r.phase === phase) };
  }
  async claimIdempotencyKey(): Promise<boolean> {
    return true;
  }
  /** Idempotency leases by key (same rules as the DynamoDB store; times in ms). */
  leases = new Map<
    string,
    {
      status: 'processing' | 'done';
      expiresAtMs: number;
      leaseUntilMs?: number;
      token?: string;
      data: Record<string, string>;
    }
  >();
  async claimIdempotencyLease(
    key: string,
    opts: { leaseSeconds: number; ttlSeconds: number; data?: Record<string, string> },
  ): Promise<IdempotencyLease> {
    const now = Date.now();
    const cur = this.leases.get(key);
    if (cur && cur.expiresAtMs >= now) {
      if (cur.status === 'done') return { state: 'done', data: cur.data };
      if ((cur.leaseUntilMs ?? 0) >= now)
        return { state: 'in_progress', leaseUntilMs: cur.leaseUntilMs ?? 0 };
    }
    const token = `lease_${Math.random().toString(36).slice(2)}`;
    this.leases.set(key, {
      status: 'processing',
      expiresAtMs: now + opts.ttlSeconds * 1000,
      leaseUntilMs: now + opts.leaseSeconds * 1000,
      token,
      data: opts.data ?? {},
    });
    return { state: 'claimed', token, takeover: cur?.status === 'processing' && cur.expiresAtMs >= now };
  }
  async completeIdempotencyLease(key: string, opts: { ttlSeconds: number; data?: Record<string, string> }) {
    this.leases.set(key, {
      status: 'done',
      expiresAtMs: Date.now() + opts.ttlSeconds * 1000,
      data: opts.data ?? {},
    });
  }
  async releaseIdempotencyLease(key: string, token: string): Promise<boolean> {
    const cur = this.leases.get(key);
    if (cur?.status !== 'processing' || cur.token !== token) return false;
    this.leases.delete(key);
    return true;
  }
  types(runId: string): string[] {
    return (this.events.get(runId) ?? []).map((e) =>
      e.type === 'bus.build.progress.updated' ? `progress:${e.data.stage}` : e.type,
    );
  }
}

export class MemoryPublisher implements EventPublisher {
  published: BuildEvent[] = [];
  async publish(events: BuildEvent[]): Promise<void> {
    this.published.push(...events);
  }
}

interface StoredObject {
  body: Buffer;
  contentType?: string;
  sha256?: string;
}

export class MemoryArtifactStore implements ArtifactStore {
  objects: Record<BucketRole, Map<string, StoredObject>> = {
    staging: new Map(),
    evidence: new Map(),
    artifacts: new Map(),
  };
  puts: { bucket: BucketRole; key: string }[] = [];

  put(bucket: BucketRole, key: string, body: string | Buffer, extra: Partial<StoredObject> = {}): void {
    this.objects[bucket].set(key, { body: Buffer.from(body), ...extra });
  }
  text(bucket: BucketRole, key: string): string | undefined {
    return this.objects[bucket].get(key)?.body.toString('utf8');
  }
  json(bucket: BucketRole, key: string): unknown {
    const t = this.text(bucket, key);
    return t === undefined ? undefined : JSON.parse(t);
  }

  async getJson(bucket: BucketRole, key: string): Promise<unknown> {
    return this.json(bucket, key);
  }
  async putJson(bucket: BucketRole, key: string, value: unknown): Promise<void> {
    this.puts.push({ bucket, key });
    this.put(bucket, key, JSON.stringify(value), { contentType: 'application/json' });
  }
  async head(bucket: BucketRole, key: string): Promise<ObjectInfo | undefined> {
    const o = this.objects[bucket].get(key);
    if (!o) return undefined;
    const info: ObjectInfo = { size: o.body.length };
    if (o.sha256) info.sha256 = o.sha256;
    if (o.contentType) info.contentType = o.contentType;
    return info;
  }
  async downloadPrefix(
    bucket: BucketRole,
    prefix: string,
    dir: string,
    limits: DownloadLimits = { maxFiles: 1e9, maxBytes: 1e12 },
  ): Promise<DownloadResult> {
    const result: DownloadResult = { files: 0, bytes: 0, rejected: [], overLimit: false };
    await mkdir(dir, { recursive: true });
    for (const [key, o] of this.objects[bucket]) {
      if (!key.startsWith(prefix)) continue;
      const rel = safeRelative(key.slice(prefix.length));
      if (!rel) {
        result.rejected.push(key);
        continue;
      }
      if (result.files + 1 > limits.maxFiles || result.bytes + o.body.length > limits.maxBytes) {
        return { ...result, overLimit: true };
      }
      const dest = path.join(dir, ...rel.split('/'));
      await mkdir(path.dirname(dest), { recursive: true });
      await writeFile(dest, o.body);
      result.files++;
      result.bytes += o.body.length;
    }
    return result;
  }
  async putFile(
    bucket: BucketRole,
    key: string,
    file: string,
    meta: { contentType: string; sha256: string; size: number },
  ): Promise<void> {
    this.puts.push({ bucket, key });
    const body = await readFile(file);
    if (createHash('sha256').update(body).digest('hex') !== meta.sha256)
      throw new Error('sha mismatch in putFile');
    this.put(bucket, key, body, { contentType: meta.contentType, sha256: meta.sha256 });
  }
  async getStream(bucket: BucketRole, key: string) {
    const o = this.objects[bucket].get(key);
    if (!o) return undefined;
    return { body: Readable.from(o.body), info: (await this.head(bucket, key)) as ObjectInfo };
  }
}

/** Remembers names; a second start of a name is ExecutionAlreadyExists → `{ started: false }`. */
export class FakeStarter implements ExecutionStarter {
  names: string[] = [];
  calls = 0;
  async start(name: string, _input: { runId: string }): Promise<{ started: boolean }> {
    this.calls++;
    if (this.names.includes(name)) return { started: false };
    this.names.push(name);
    return { started: true };
  }
}

/** A quoted run has a confirmed contact address: approval refuses a run without one. */
export const OWNER = {
  sessionId: 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa',
  email: 'visitor@example.org',
  emailVerified: true,
};
export const T0 = '2026-11-24T10:00:00.000Z';

/** A clock that advances one second per call. */
export function clock(start = Date.parse(T0)): () => string {
  let t = start;
  return () => {
    t += 1000;
    return new Date(t).toISOString();
  };
}

/** A run with a spec and a quote, in phase `quoted`. */
export function quotedRun(artifactType: 'web' | 'binary' | 'both' = 'both'): BuildRun {
  const run = newBuildRun(OWNER, T0);
  return transition(
    run,
    'quoted',
    {
      artifactType,
      spec: {
        title: 'Tip calculator',
        summary: 'Works out the tip and splits the bill.',
        requestText: 'A tip calculator please',
        artifactType,
        platforms: ['linux-amd64'],
        recipe: 'tip-calculator',
        features: ['Tip percentage'],
        outOfScope: ['Accounts'],
        complexity: 'small',
      },
      quote: {
        version: 1,
        amountCents: 4900,
        currency: 'eur',
        artifactType,
        platforms: ['linux-amd64'],
        lineItems: [{ label: 'Tool', amountCents: 4900 }],
        delivery: 'Preview and downloads',
        createdAt: T0,
      },
    },
    T0,
  );
}
