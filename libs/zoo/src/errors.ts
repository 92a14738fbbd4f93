import { BlinkNetError } from '@blinknet/core';

/** Thrown when a data set is not installed, or its files do not match the expected checksums. */
export class DatasetError extends BlinkNetError {
  override readonly name = 'DatasetError';

  constructor(
    readonly dataset: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${dataset}: ${message}`, options);
  }
}

/** Thrown when a reference model or its manifest is missing or does not match its recorded sha256. */
export class ReferenceModelError extends BlinkNetError {
  override readonly name = 'ReferenceModelError';

  constructor(
    readonly model: string,
    message: string,
  ) {
    super(`reference model '${model}': ${message}`);
  }
}
