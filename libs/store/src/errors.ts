import { BlinkNetError } from '@blinknet/core';

/** Thrown when the database cannot be opened or migrated, or an applied migration was edited afterwards. */
export class MigrationError extends BlinkNetError {
  override readonly name = 'MigrationError';

  constructor(
    readonly migration: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`migration ${migration}: ${message}`, options);
  }
}
