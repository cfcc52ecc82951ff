/** Base of every error legate raises on purpose: `code` is stable, for logs and tests to match on. */
export class LegateError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A request names something that does not exist (the admin endpoints answer 404). */
export class UnknownNameError extends LegateError {
  constructor(message: string) {
    super('LEGATE_UNKNOWN_NAME', message);
  }
}

/** A request's value is not one it accepts (the admin endpoints answer 400). */
export class BadValueError extends LegateError {
  constructor(message: string) {
    super('LEGATE_BAD_VALUE', message);
  }
}

/** A command line that cannot be acted on: the CLI prints the message and the usage hint, exit 1. */
export class UsageError extends LegateError {
  constructor(message: string) {
    super('LEGATE_USAGE', message);
  }
}
