/**
 * An error a local Task handler throws to fail its state. aws-local-stepfunctions matches
 * `Retry`/`Catch` `ErrorEquals` against the thrown error's `name` and puts
 * `{ Error: name, Cause: message }` at the catcher's `ResultPath`, so `name` is the ASL error
 * name and `message` its Cause.
 */
export class AslTaskError extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}
