/**
 * @blinknet/planner-core: the plan solver. Given every model's approximable layers with each option's
 * predicted latency, memory, storage and accuracy loss on a device class, it picks one option per layer
 * so that every bound holds (per-model and total latency, memory, storage; a latency margin) with the
 * least weighted loss. Pure: no I/O.
 * - solveExact: the specialised exact search (falls back to solveMilp past its budget);
 * - solveMilp: HiGHS (WebAssembly) on the 0-1 programme, the reference;
 * - noApproximation, uniformLevel, greedyNetAdapt: baselines for the evaluation;
 * - ladder: the plan plus variants under scaled latency bounds, for on-device step-down;
 * - classCosts, modelProblem: a device class's cost model from its measurements, as a solver problem.
 * A feasible result is checked against every bound (relative tolerance RELATIVE_TOLERANCE) before it is
 * returned; an infeasible one names the unreachable bounds and each figure's least reachable value.
 */
export type {
  FeasiblePlan,
  Figures,
  InfeasiblePlan,
  LayerChoices,
  ModelProblem,
  OptionChoice,
  PlanProblem,
  Solution,
  SolveMethod,
  TightestFigures,
} from './types';
export { NotProfiledError, SolverError } from './errors';
export {
  type ClassCosts,
  classCosts,
  type ClassMeasurement,
  type LadderOption,
  modelProblem,
  type ModelVersionCosts,
} from './cost-model';
export { RELATIVE_TOLERANCE } from './model';
export { solveMilp } from './milp';
export { type ExactOptions, type ExactStats, solveExact, solveExactSync } from './exact';
export { greedyNetAdapt, noApproximation, uniformLevel } from './baselines';
export { ladder, type LadderRung, scaleLatencyBounds } from './ladder';
export { type BoundDraw, realisticProblem, type Rng, seededRng, type Shape, uniformProblem } from './random';
