import { BlinkNetError } from '@blinknet/core';

/** Thrown when onnxruntime cannot create a session for a model (corrupt file, unsupported op or IR). */
export class SessionCreateError extends BlinkNetError {
  override readonly name = 'SessionCreateError';

  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot load ${source} in onnxruntime: ${message}`, options);
  }
}

/** Thrown when inputs do not match the model (name, element type, size) or a run fails. */
export class InferenceError extends BlinkNetError {
  override readonly name = 'InferenceError';

  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
  }
}
