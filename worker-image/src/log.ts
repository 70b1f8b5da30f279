/**
 * The worker's internal log: every step and the (truncated) output of every command, kept in
 * memory and written to the evidence bucket at the end (`runs/{run_id}/{attempt}/worker.log`).
 * It is internal evidence: it never reaches the customer. Secrets are still redacted before a line
 * is stored or echoed, because logs travel further than anyone intends.
 */

const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|API_KEY|ACCESS_KEY|AUTH/i;
const MIN_SECRET_LENGTH = 6;
/** `scheme://user:password@host` → `scheme://[redacted]@host`. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi;
const REDACTED = '[redacted]';

/** Values of secret-looking environment variables, longest first (so overlaps redact fully). */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= MIN_SECRET_LENGTH && SECRET_NAME.test(name)) values.add(value);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(URL_USERINFO, `$1${REDACTED}@`);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

export interface WorkerLogOptions {
  /** Values to redact (default: secret-looking environment variables). */
  secrets?: readonly string[];
  /** Where each stored line is echoed (default: stderr). Pass `null` for none. */
  echo?: ((line: string) => void) | null;
  /** Bytes kept from the start of the log. */
  headBytes?: number;
  /** Bytes kept from the end of the log once the head is full. */
  tailBytes?: number;
  now?: () => Date;
}

export class WorkerLog {
  private readonly secrets: readonly string[];
  private readonly echo: ((line: string) => void) | null;
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private readonly now: () => Date;
  private readonly head: string[] = [];
  private headSize = 0;
  private tail: string[] = [];
  private tailSize = 0;
  private droppedLines = 0;

  constructor(opts: WorkerLogOptions = {}) {
    this.secrets = opts.secrets ?? secretValues();
    this.echo = opts.echo === undefined ? (line) => process.stderr.write(`${line}\n`) : opts.echo;
    this.headLimit = opts.headBytes ?? 1024 * 1024;
    this.tailLimit = opts.tailBytes ?? 3 * 1024 * 1024;
    this.now = opts.now ?? (() => new Date());
  }

  /** The redaction applied to stored lines, for text that leaves the log (e.g. a failure reason). */
  redact(text: string): string {
    return redact(text, this.secrets);
  }

  /** One log line (multi-line text is stored as several lines with the same timestamp). */
  line(text: string): void {
    const stamp = this.now().toISOString();
    for (const part of redact(text, this.secrets).split(/\r?\n/)) {
      const line = `${stamp} ${part}`;
      this.store(line);
      this.echo?.(line);
    }
  }

  /** A block of command output: stored, not echoed (it can be long). */
  block(text: string): void {
    if (!text) return;
    for (const part of redact(text, this.secrets).replace(/\n$/, '').split(/\r?\n/))
      this.store(`  | ${part}`);
  }

  private store(line: string): void {
    const size = Buffer.byteLength(line) + 1;
    if (this.tail.length === 0 && this.headSize + size <= this.headLimit) {
      this.head.push(line);
      this.headSize += size;
      return;
    }
    this.tail.push(line);
    this.tailSize += size;
    while (this.tailSize > this.tailLimit && this.tail.length > 0) {
      this.tailSize -= Buffer.byteLength(this.tail.shift()!) + 1;
      this.droppedLines++;
    }
  }

  text(): string {
    const parts = [...this.head];
    if (this.droppedLines > 0) parts.push(`… ${this.droppedLines} log lines omitted …`);
    parts.push(...this.tail);
    return `${parts.join('\n')}\n`;
  }
}
