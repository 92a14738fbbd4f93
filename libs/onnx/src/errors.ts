import { BlinkNetError } from '@blinknet/core';

/** Thrown when bytes are not a decodable ONNX ModelProto (corrupt, truncated or not ONNX at all). */
export class OnnxDecodeError extends BlinkNetError {
  override readonly name = 'OnnxDecodeError';

  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
  }
}

/** Thrown when a model keeps tensor data in external files; BlinkNet handles self-contained models only. */
export class ExternalDataError extends BlinkNetError {
  override readonly name = 'ExternalDataError';

  constructor(
    readonly tensorName: string,
    readonly location: string,
  ) {
    super(
      `tensor '${tensorName}' keeps its data in external file '${location}'; ` +
        'BlinkNet needs self-contained models (re-export with all tensors inside the .onnx file, ' +
        'e.g. onnx.save_model(model, path, save_as_external_data=False))',
    );
  }
}

/** Thrown when a tensor's type or contents cannot be converted (unsupported dtype, wrong length). */
export class TensorDataError extends BlinkNetError {
  override readonly name = 'TensorDataError';

  constructor(
    readonly tensorName: string,
    message: string,
  ) {
    super(`tensor '${tensorName}': ${message}`);
  }
}

/** Thrown when a graph is structurally invalid: a cycle, an input nobody produces, duplicate names. */
export class GraphStructureError extends BlinkNetError {
  override readonly name = 'GraphStructureError';

  constructor(
    message: string,
    readonly nodeName?: string,
  ) {
    super(nodeName ? `node '${nodeName}': ${message}` : message);
  }
}

/** Thrown when shape inference meets an operator it does not know. */
export class UnsupportedOpError extends BlinkNetError {
  override readonly name = 'UnsupportedOpError';

  constructor(
    readonly nodeName: string,
    readonly opType: string,
  ) {
    super(`node '${nodeName}': shape inference does not support op '${opType}'`);
  }
}

/** Thrown when a node's inputs or attributes make its output shape undefined or inconsistent. */
export class ShapeInferenceError extends BlinkNetError {
  override readonly name = 'ShapeInferenceError';

  constructor(
    readonly nodeName: string,
    readonly opType: string,
    message: string,
  ) {
    super(`node '${nodeName}' (${opType}): ${message}`);
  }
}
