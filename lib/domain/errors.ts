/**
 * A domain error carries a stable machine code, a customer-safe message and the HTTP status
 * the API maps it to. Anything that is not a DomainError becomes a generic 500.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** When the caller may try again (a 429): answered as the `Retry-After` header. */
  readonly retryAfterSeconds?: number;
}

export class NotFoundError extends DomainError {
  constructor(what = 'build run') {
    super('not_found', `The ${what} was not found.`, 404);
  }
}

export class ConflictError extends DomainError {
  constructor(message = 'The build run was changed by someone else; please retry.') {
    super('conflict', message, 409);
  }
}

export class ValidationError extends DomainError {
  constructor(message: string) {
    super('invalid_request', message, 400);
  }
}

/** Over a quota or rate limit: 429 `rate_limited` with `Retry-After`. */
export class RateLimitedError extends DomainError {
  override readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = 'Too many requests. Please wait a little and try again.') {
    super('rate_limited', message, 429);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
