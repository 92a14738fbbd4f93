import { BlinkNetError } from '@blinknet/core';

/** Thrown when an option string does not follow the grammar (`exact`, `lowrank:r=64`, `prune:keep=0.5`, ...). */
export class OptionSyntaxError extends BlinkNetError {
  override readonly name = 'OptionSyntaxError';

  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`option '${option}': ${message}`);
  }
}

/** Thrown when a plan names a layer the model does not have. */
export class UnknownLayerError extends BlinkNetError {
  override readonly name = 'UnknownLayerError';

  constructor(
    readonly layer: string,
    readonly option: string,
  ) {
    super(`layer '${layer}' (option '${option}') is not an approximable layer of this model`);
  }
}

/** Thrown when an option cannot be applied to a layer (not offered, unsupported attributes, not rewirable). */
export class OptionNotOfferedError extends BlinkNetError {
  override readonly name = 'OptionNotOfferedError';

  constructor(
    readonly layer: string,
    readonly option: string,
    readonly reason: string,
  ) {
    super(`layer '${layer}': option '${option}' is not offered: ${reason}`);
  }
}
