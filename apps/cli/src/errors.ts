import { BlinkNetError } from '@blinknet/core';

/**
 * Thrown when the command line is wrong (exit status 2), before anything is sent to the planner.
 * `field` names the flag or argument at fault, `command` the command whose --help explains it.
 */
export class UsageError extends BlinkNetError {
  override readonly name = 'UsageError';

  constructor(
    readonly field: string,
    message: string,
    readonly command: string = '',
  ) {
    super(`${field}: ${message}`);
  }

  /** Where to read about it: `blinknet policy set --help`. */
  get help(): string {
    return ['blinknet', this.command, '--help'].filter(Boolean).join(' ');
  }
}

/**
 * Thrown when a call to the planner fails (exit status 1). `code` is the gRPC status name
 * (UNAUTHENTICATED, NOT_FOUND, ...); `details` says why, in the planner's words or ours.
 */
export class PlannerCallError extends BlinkNetError {
  override readonly name = 'PlannerCallError';

  constructor(
    readonly code: string,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${details}`, options);
  }
}
