import { DataType, encodeModel, type ModelProto, valueInfo } from '@blinknet/onnx';
import { type FloatTensor, ModelSession, type SessionOptions } from './session';

/**
 * Values of a model's intermediate tensors on a fixed calibration batch: the tensors are exposed
 * as extra graph outputs and the model runs once. Used by data-aware approximation.
 */
export class CalibrationRunner {
  constructor(
    /** The calibration batch, by graph input name. */
    readonly inputs: Readonly<Record<string, FloatTensor>>,
    readonly session: SessionOptions = {},
  ) {}

  async activations(model: ModelProto, tensors: readonly string[]): Promise<Map<string, FloatTensor>> {
    const graph = model.graph!;
    const known = new Set(graph.output.map((v) => v.name));
    const extra = tensors.filter((t) => !known.has(t)).map((t) => valueInfo(t, DataType.FLOAT));
    const exposed: ModelProto = { ...model, graph: { ...graph, output: [...graph.output, ...extra] } };
    const session = await ModelSession.create(encodeModel(exposed), this.session, 'calibration model');
    try {
      const outputs = await session.run(this.inputs);
      return new Map(tensors.map((t) => [t, outputs[t]]));
    } finally {
      await session.dispose();
    }
  }
}
