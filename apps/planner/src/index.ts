export { AgentServiceImpl, type AgentServiceOptions, CHUNK_BYTES } from './agent-service';
export { type PlannerConfig, parsePlannerConfig } from './config';
export { Planner } from './planner';
export {
  type AccuracyReference,
  type AccuracySettings,
  type ApproximationContext,
  approximationContext,
  type EvalSet,
  labelledSplits,
  flipRate,
  optionAccuracy,
  randomInputs,
  top1,
  withDefaults as accuracySettings,
} from './accuracy';
export {
  calibrate,
  type Calibration,
  calibrationFromPlans,
  type MeasuredPlan,
  rawFigures,
  type RawFigures,
} from './calibration';
export { LATENCY_HEADROOM } from './loop';
export { PLAN_CHECKS } from './deploy';
export {
  type CheckedPlan,
  chooseChecked,
  correctPlan,
  type Corrections,
  corrected,
  DEFAULT_LATENCY_MARGIN,
  ofTechnique,
  type PlanCheck,
  restrictTo,
  samePlan,
  solveWithMargin,
  type Technique,
  TECHNIQUES,
} from './planning';
