import { BlinkNetError } from '@blinknet/core';

/** Thrown when HiGHS ends without a proof (an error or a limit status) or its plan cannot be repaired. */
export class SolverError extends BlinkNetError {
  override readonly name = 'SolverError';

  constructor(
    readonly status: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
