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
export {
  latencyContext,
  type LatencyMeasurement,
  measureLatency,
  type MeasurementContext,
  timeRuns,
  type TimingOptions,
} from './latency';
export { type LatencyStats, medianWindow, quantile, summarize } from './stats';
export { MEMORY_SAMPLES, type MemoryMeasurement, measureModelMemory } from './memory';
export { type DeviceFacts, deviceFacts } from './device';
export { type NodeTiming, nodeTimings } from './node-profile';
