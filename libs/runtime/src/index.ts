export { InferenceError, SessionCreateError } from './errors';
export {
  type FloatTensor,
  type GraphOptimizationLevel,
  ModelSession,
  ONNXRUNTIME_VERSION,
  type SessionOptions,
  type SessionOptionsWithDefaults,
  withSessionDefaults,
} from './session';
export { OrtMatrixEngine } from './matrix-engine';
export { CalibrationRunner } from './activations';
