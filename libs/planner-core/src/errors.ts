import { BlinkNetError, PreconditionError } from '@blinknet/core';

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

/** Thrown when a device class lacks the measurements a plan needs; `missing` says which. */
export class NotProfiledError extends PreconditionError {
  override readonly name: string = 'NotProfiledError';

  constructor(
    readonly model: string,
    readonly missing: string,
  ) {
    super(`${model} has no ${missing} measured on this device class yet`);
  }
}
