/**
 * The base of every BlinkNet error. Each subclass says in its doc comment when it is thrown, carries
 * the context needed to act on it (node name, field, bound, device id) as readonly fields, and keeps
 * the underlying error as `cause`.
 */
export abstract class BlinkNetError extends Error {
  abstract override readonly name: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Thrown when an argument or a configuration value is invalid; `field` names it. */
export class InvalidArgumentError extends BlinkNetError {
  override readonly name = 'InvalidArgumentError';

  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** Thrown when something the caller asked for does not exist (a file, a model, a layer). */
export class NotFoundError extends BlinkNetError {
  override readonly name = 'NotFoundError';

  constructor(
    readonly what: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when the system is not yet in the state an operation needs (e.g. a model not profiled yet). */
export class PreconditionError extends BlinkNetError {
  override readonly name: string = 'PreconditionError';
}

/** Normalises anything thrown into an Error so that callers can log `.message` safely. */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}
