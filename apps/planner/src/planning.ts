/**
 * From a stored policy to a solved plan: each model's latest version, its class's cost model and its
 * accuracy model, as one solver problem (libs/planner-core).
 */
import { PreconditionError } from '@blinknet/core';
import {
  classCosts,
  type Figures,
  type ModelProblem,
  modelProblem,
  type PlanProblem,
  type Solution,
  solveExact,
} from '@blinknet/planner-core';
import {
  classMeasurements,
  getPolicy,
  latestModelVersion,
  type ModelVersionRecord,
  type OpenedDatabase,
  type PolicyRecord,
  type PolicyScope,
} from '@blinknet/store';

/**
 * What was measured against what a plan predicted, per model: latency + `latencyMs` and memory +
 * `memoryBytes` on the class's devices, option losses x `lossScale` on the calibration split. The
 * closed loop composes them round after round. Latency is corrected by adding, not scaling: what a
 * plan misses by on a small device is mostly per-run overhead and contention that no approximation
 * removes, and scaling it into every option would send the loop after ever more aggressive plans.
 */
export interface ModelCorrection {
  /** Latency the class's devices measured beyond the prediction: per-run costs no option removes. */
  readonly latencyMs: number;
  readonly memoryBytes: number;
  /** "layer option" -> factor on the option's predicted loss, from plans that measured worse. */
  readonly lossScale?: Readonly<Record<string, number>>;
}
export type Corrections = Readonly<Record<string, ModelCorrection>>;

export interface PlannedModel {
  readonly version: ModelVersionRecord;
  readonly problem: ModelProblem;
  /** The original model's accuracy on the calibration split (0..1). */
  readonly accuracy: number;
}

export interface PlanResult {
  readonly policy: PolicyRecord;
  readonly models: readonly PlannedModel[];
  readonly problem: PlanProblem;
  readonly solution: Solution;
  /** Models whose predicted accuracy falls under the policy's floor in the optimal plan. */
  readonly belowFloor: readonly string[];
  readonly planningMs: number;
}

/** A model version's accuracy model, or why it cannot be used yet. */
function readyAccuracy(version: ModelVersionRecord): number {
  if (version.accuracyState === 'failed') {
    throw new PreconditionError(`the accuracy model of ${version.model} failed: ${version.accuracyDetail}`);
  }
  const evaluated = version.options.filter((o) => o.accuracy !== undefined).length;
  if (version.accuracyState !== 'ready' || version.calibrationAccuracy === undefined) {
    throw new PreconditionError(
      `the accuracy model of ${version.model} is still being computed (${evaluated} of ${version.options.length} options)`,
    );
  }
  return version.calibrationAccuracy;
}

/** The model's problem with what its devices measured folded in. */
function corrected(problem: ModelProblem, correction: Corrections[string] | undefined): ModelProblem {
  if (!correction) return problem;
  return {
    ...problem,
    fixed: {
      ...problem.fixed,
      latencyMs: problem.fixed.latencyMs + correction.latencyMs,
      memoryBytes: Math.max(0, problem.fixed.memoryBytes + correction.memoryBytes),
    },
    layers: problem.layers.map((l) => ({
      ...l,
      options: l.options.map((o) => ({
        ...o,
        loss: o.loss * (correction.lossScale?.[`${l.layer} ${o.option}`] ?? 1),
      })),
    })),
  };
}

/** What a model costs with every layer exact, on the same cost model. */
export function originalFigures(problem: ModelProblem): Figures {
  const exact = problem.layers.map((l) => l.options[0]);
  const sum = (key: 'latencyMs' | 'memoryBytes' | 'storageBytes') =>
    problem.fixed[key] + exact.reduce((n, o) => n + o[key], 0);
  return {
    latencyMs: sum('latencyMs'),
    memoryBytes: sum('memoryBytes'),
    storageBytes: sum('storageBytes'),
    loss: 0,
  };
}

/**
 * Solves a scope's policy on its class's measurements.
 * @throws NotFoundError (no policy, class, device or model), PreconditionError (not profiled yet,
 * accuracy model not ready)
 */
export async function planPolicy(
  db: OpenedDatabase,
  scope: PolicyScope,
  corrections: Corrections = {},
): Promise<PlanResult> {
  const started = performance.now();
  const policy = await getPolicy(db.prisma, scope);
  const models: PlannedModel[] = [];
  for (const entry of policy.models) {
    const version = await latestModelVersion(db.prisma, entry.model);
    const accuracy = readyAccuracy(version);
    const measurements = await classMeasurements(db.prisma, policy.deviceClassId, version.id);
    const costsInput = {
      model: version.model,
      bytes: version.bytes,
      activationPeakBytes: version.activationPeakBytes,
      otherWeightBytes: version.otherWeightBytes,
      accuracy,
      options: version.options.map((o) => ({ ...o, accuracy: o.accuracy ?? 0 })),
    };
    const costs = classCosts(costsInput, measurements, policy.latencyPercentile);
    const problem = corrected(
      modelProblem(costsInput, costs, { latencyBoundMs: entry.latencyBoundMs }),
      corrections[version.model],
    );
    models.push({ version, problem, accuracy });
  }
  const problem: PlanProblem = {
    models: models.map((m) => m.problem),
    totalLatencyBoundMs: policy.totalLatencyBoundMs,
    memoryBoundBytes: policy.memoryBoundBytes,
    storageBoundBytes: policy.storageBoundBytes,
    latencyMargin: policy.latencyMargin,
  };
  const solution = await solveExact(problem);
  const floor = policy.accuracyFloor;
  const belowFloor =
    solution.feasible && floor !== undefined
      ? models
          .filter((m) => m.accuracy - solution.perModel[m.version.model].loss / 100 < floor)
          .map((m) => m.version.model)
      : [];
  return { policy, models, problem, solution, belowFloor, planningMs: performance.now() - started };
}
