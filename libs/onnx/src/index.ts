export type {
  ModelProto,
  GraphProto,
  NodeProto,
  TensorProto,
  ValueInfoProto,
  AttributeProto,
} from '@blinknet/proto/onnx';
export { DataType, dataTypeInfo, dataTypeLabel, dataTypeOf, type TensorData } from './dtype';
export {
  ExternalDataError,
  GraphStructureError,
  OnnxDecodeError,
  ShapeInferenceError,
  TensorDataError,
  UnsupportedOpError,
} from './errors';
export {
  type Tensor,
  elementCount,
  tensorByteSize,
  tensorFromProto,
  tensorToProto,
  toSafeNumbers,
} from './tensor';
export {
  decodeModel,
  encodeModel,
  encodeModelChunks,
  readModel,
  syncDirectory,
  writeFileAtomic,
  writeModel,
} from './model-io';
export {
  attribute,
  findAttribute,
  floatAttribute,
  intAttribute,
  intsAttribute,
  stringAttribute,
  tensorAttribute,
} from './attributes';
export { GraphView, nodeLabel } from './graph';
export { inferShapes, isSupportedOp, type ShapeInferenceOptions, type ValueInfo } from './shape-inference';
export {
  activationPeakBytes,
  APPROXIMABLE_OPS,
  countParameters,
  describeLayers,
  type LayerInfo,
  weightBytes,
} from './layers';
export { ModelBuilder, type ConvSpec, type ModelBuilderOptions, type PoolSpec, valueInfo } from './builder';
export { SeededRandom } from './random';
export { extractSubgraph, sinkOutputs } from './subgraph';
