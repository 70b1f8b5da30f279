/** A command line the CLI cannot run as given (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operation that failed for a reason the operator can act on (exit code 1). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** A short, secret-free reason for a failed probe (error name and network code, not bodies). */
export function probeError(err: unknown): string {
  type Failure = { name?: string; code?: string; message?: string; errors?: Failure[]; cause?: Failure };
  const e = err as Failure | undefined;
  // fetch wraps the network error in `cause`; dual-stack connects report an AggregateError.
  const inner = e?.cause ?? e;
  const code = inner?.code ?? inner?.errors?.find((x) => x.code)?.code ?? e?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code === 'ETIMEDOUT' || e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  if (code) return code;
  return e?.name && e.name !== 'Error' ? e.name : (e?.message ?? 'failed');
}
