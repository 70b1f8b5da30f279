/** In-memory LoginStore + RunIndex with the same conditional semantics as DynamoLoginStore. */
import { rateWindow } from '../../lib/domain/otp.ts';
import type { LoginStore, Mailer, RunIndex, RunIndexOwner, StoredOtp } from '../../lib/domain/ports.ts';

const ownerKey = (o: RunIndexOwner) =>
  o.kind === 'session' ? `SESSION#${o.sessionId}` : `EMAIL#${o.emailKey}`;

export class MemoryLoginStore implements LoginStore, RunIndex {
  codes = new Map<string, StoredOtp>();
  counters = new Map<string, number>();
  index = new Map<string, Map<string, string>>();

  async putCode(emailKey: string, code: { codeHash: string; validUntilMs: number }): Promise<void> {
    this.codes.set(emailKey, { ...code, attempts: 0, used: false });
  }
  async countAttempt(emailKey: string, maxAttempts: number): Promise<StoredOtp | undefined> {
    const c = this.codes.get(emailKey);
    if (!c || c.used || c.attempts >= maxAttempts) return undefined;
    c.attempts++;
    return { ...c };
  }
  async markUsed(emailKey: string, codeHash: string, nowMs: number): Promise<boolean> {
    const c = this.codes.get(emailKey);
    if (!c || c.used || c.codeHash !== codeHash || c.validUntilMs <= nowMs) return false;
    c.used = true;
    return true;
  }
  async hit(key: string, limit: number, windowSeconds: number, nowMs: number) {
    const { start, retryAfterSeconds } = rateWindow(nowMs, windowSeconds);
    const k = `${key}#${start}`;
    const n = this.counters.get(k) ?? 0;
    if (n >= limit) return { allowed: false, retryAfterSeconds };
    this.counters.set(k, n + 1);
    return { allowed: true, retryAfterSeconds };
  }
  async addRun(owner: RunIndexOwner, runId: string, createdAt: string): Promise<void> {
    const m = this.index.get(ownerKey(owner)) ?? new Map<string, string>();
    m.set(runId, createdAt);
    this.index.set(ownerKey(owner), m);
  }
  async removeRun(owner: RunIndexOwner, runId: string): Promise<void> {
    this.index.get(ownerKey(owner))?.delete(runId);
  }
  async listRunIds(owner: RunIndexOwner, limit: number): Promise<string[]> {
    return [...(this.index.get(ownerKey(owner)) ?? new Map<string, string>())]
      .sort((a, b) => (a[1] < b[1] ? 1 : -1))
      .slice(0, limit)
      .map(([id]) => id);
  }
}

export class MemoryMailer implements Mailer {
  sent: { to: string; subject: string; text: string }[] = [];
  async send(m: { to: string; subject: string; text: string }): Promise<void> {
    this.sent.push(m);
  }
  lastCode(): string | undefined {
    return this.sent.at(-1)?.text.match(/\b(\d{6})\b/)?.[1];
  }
}

/** A settable clock returning ISO strings. */
export function manualClock(startIso = '2026-11-24T10:00:00.000Z') {
  let t = Date.parse(startIso);
  return {
    now: () => new Date(t).toISOString(),
    advance: (ms: number) => {
      t += ms;
    },
  };
}
