/**
 * From a stored policy to a solved plan: each model's latest version, its class's cost model and its
 * accuracy model, as one solver problem (libs/planner-core).
 */
import { parseOption } from '@blinknet/approx';
import { PreconditionError } from '@blinknet/core';
import {
  classCosts,
  type FeasiblePlan,
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
  listDeployments,
  type ModelVersionRecord,
  newestMeasuredPlans,
  type OpenedDatabase,
  type PolicyRecord,
  type PolicyScope,
} from '@blinknet/store';
import {
  calibrate,
  type Calibration,
  calibrationFromPlans,
  type MeasuredPlan,
  type RawFigures,
} from './calibration';

/** What the planner measured of a built plan against its prediction, per model. */
export interface ModelCorrection {
  /**
   * "layer option" -> factor on the option's predicted loss, from plans that lost more than predicted
   * on the calibration split.
   */
  readonly lossScale?: Readonly<Record<string, number>>;
  /**
   * Bytes a built artifact exceeded its predicted storage by, added to the fixed storage: the cost
   * model is additive per layer and only approximates what options do together (e.g. a pruned
   * layer's consumer taken low rank loses inputs in one of its two factors only).
   */
  readonly storageBytes?: number;
}
export type Corrections = Readonly<Record<string, ModelCorrection>>;

/** A plan's figures as predicted, stored with it (accuracy 0..1, loss in points). */
export interface PredictedFigures {
  readonly models: Readonly<
    Record<string, Figures & { readonly accuracy: number; readonly costModel?: RawFigures }>
  >;
  readonly totals: Figures;
  /** What the accuracy checks measured, folded into these predictions. */
  readonly corrections: Corrections;
}

export interface PlannedModel {
  readonly version: ModelVersionRecord;
  readonly problem: ModelProblem;
  /** The original model's accuracy on the calibration split (0..1). */
  readonly accuracy: number;
  /** The class's cost model of the version, before calibration and corrections. */
  readonly costModel: ModelProblem;
  /** Folded into `problem`. */
  readonly calibration: Calibration;
}

export interface PlanResult {
  readonly policy: PolicyRecord;
  readonly models: readonly PlannedModel[];
  readonly problem: PlanProblem;
  readonly solution: Solution;
  /** Models whose predicted accuracy falls under the policy's floor in the optimal plan. */
  readonly belowFloor: readonly string[];
  readonly planningMs: number;
  /** The technique the options were restricted to (PlanOptions.technique), if any. */
  readonly technique?: Technique;
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

/** Newest measured plans a calibration is fitted on: one p95 on a small device is noisy. */
const CALIBRATION_PLANS = 4;

/**
 * The calibration of a version's cost model on a class, fitted on the newest plans a device of the
 * class verified, each by its worst device.
 */
async function calibrationOf(
  db: OpenedDatabase,
  deviceClassId: string,
  version: ModelVersionRecord,
): Promise<Calibration> {
  const plans: MeasuredPlan[] = [];
  for (const planId of await newestMeasuredPlans(db.prisma, deviceClassId, version.id, CALIBRATION_PLANS)) {
    const measured = (await listDeployments(db.prisma, { planId })).filter(
      (d) => d.model === version.model && d.measured.latencyMs !== undefined,
    );
    const raw = (measured[0]?.plan.predicted as PredictedFigures | undefined)?.models[version.model]
      ?.costModel;
    if (!raw) continue;
    const memory = measured.flatMap((d) => d.measured.residentBytes ?? []);
    plans.push({
      raw,
      latencyMs: Math.max(...measured.map((d) => d.measured.latencyMs!)),
      memoryBytes: memory.length > 0 ? Math.max(...memory) : undefined,
    });
  }
  return calibrationFromPlans(plans);
}

/** The problem with the plan checks' corrections folded in: its options' losses, its fixed storage. */
export function corrected(problem: ModelProblem, correction: ModelCorrection | undefined): ModelProblem {
  if (!correction) return problem;
  const scale = correction.lossScale ?? {};
  return {
    ...problem,
    fixed: { ...problem.fixed, storageBytes: problem.fixed.storageBytes + (correction.storageBytes ?? 0) },
    layers: problem.layers.map((l) => ({
      ...l,
      options: l.options.map((o) => ({ ...o, loss: o.loss * (scale[`${l.layer} ${o.option}`] ?? 1) })),
    })),
  };
}

/** Measured loss (fraction of changed predictions) a plan may exceed its prediction by. */
export const ACCURACY_TOLERANCE = 0.01;

/** What a built plan measured before it is deployed, per model. */
export interface PlanCheck {
  /** Share of changed predictions on the calibration split (models with an accuracy model). */
  readonly loss?: number;
  /** Bytes of the built artifact. */
  readonly storageBytes: number;
}

/**
 * The corrections after checking a built plan: the options of each model whose plan lost more than
 * predicted beyond ACCURACY_TOLERANCE are charged the measured / predicted ratio, and when the built
 * artifacts miss the storage bound, each model whose artifact outgrew its prediction has the excess
 * added to its fixed storage (a few hundred bytes of names and metadata per plan are never
 * predicted: corrected only when they matter). Undefined when nothing calls for a correction.
 */
export function correctPlan(
  corrections: Corrections,
  plan: FeasiblePlan,
  checks: Readonly<Record<string, PlanCheck>>,
  storageBoundBytes?: number,
): Corrections | undefined {
  const next: Record<string, ModelCorrection> = { ...corrections };
  let changed = false;
  const builtBytes = Object.entries(plan.perModel).reduce(
    (n, [model, figures]) => n + (checks[model]?.storageBytes ?? figures.storageBytes),
    0,
  );
  const storageMissed = storageBoundBytes !== undefined && builtBytes > storageBoundBytes;
  for (const [model, { loss, storageBytes }] of Object.entries(checks)) {
    const predicted = plan.perModel[model];
    const excessBytes = storageBytes - predicted.storageBytes;
    if (storageMissed && excessBytes > 0) {
      next[model] = { ...next[model], storageBytes: (next[model]?.storageBytes ?? 0) + excessBytes };
      changed = true;
    }
    if (loss === undefined || loss <= predicted.loss / 100 + ACCURACY_TOLERANCE) continue;
    const ratio = loss / Math.max(predicted.loss / 100, ACCURACY_TOLERANCE);
    const lossScale = { ...next[model]?.lossScale };
    for (const [layer, option] of Object.entries(plan.choices[model])) {
      if (option !== 'exact')
        lossScale[`${layer} ${option}`] = (lossScale[`${layer} ${option}`] ?? 1) * ratio;
    }
    next[model] = { ...next[model], lossScale };
    changed = true;
  }
  return changed ? next : undefined;
}

/** A plan built and checked while the deployer corrected the additive model (see correctPlan). */
export interface CheckedPlan {
  readonly plan: FeasiblePlan;
  readonly checks: Readonly<Record<string, PlanCheck>>;
}

/**
 * Which of the plans checked for one deployment goes out: the least loss as checked (the predicted
 * loss where nothing was checked) among those whose every model keeps the accuracy floor as checked,
 * those whose built artifacts meet the storage bound first. `chosen` is undefined when none keeps the
 * floor (the additive model's plans lose more than it predicts: none may be deployed); `belowFloor`
 * then names the models the last plan lost it on.
 */
export function chooseChecked(
  checked: readonly CheckedPlan[],
  accuracy: Readonly<Record<string, number>>,
  floor?: number,
  storageBoundBytes?: number,
): { readonly chosen?: number; readonly belowFloor: readonly string[] } {
  const figures = checked.map(({ plan, checks }) => {
    const losses = Object.entries(plan.perModel).map(
      ([model, predicted]) => [model, checks[model]?.loss ?? predicted.loss / 100] as const,
    );
    const bytes = Object.entries(plan.perModel).reduce(
      (n, [model, predicted]) => n + (checks[model]?.storageBytes ?? predicted.storageBytes),
      0,
    );
    return {
      belowFloor:
        floor === undefined ? [] : losses.filter(([m, loss]) => accuracy[m] - loss < floor).map(([m]) => m),
      storageMissed: storageBoundBytes !== undefined && bytes > storageBoundBytes,
      loss: losses.reduce((n, [, loss]) => n + loss, 0),
    };
  });
  let chosen: number | undefined;
  for (const [i, f] of figures.entries()) {
    if (f.belowFloor.length > 0) continue;
    const b = chosen === undefined ? undefined : figures[chosen];
    if (!b || Number(f.storageMissed) < Number(b.storageMissed)) chosen = i;
    else if (f.storageMissed === b.storageMissed && f.loss < b.loss) chosen = i;
  }
  return { chosen, belowFloor: chosen === undefined ? (figures.at(-1)?.belowFloor ?? []) : [] };
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
 * The latency margin of a policy that sets none: plans aim at 0.9 x each latency bound where a plan
 * can. A plan aimed at the bound itself misses it as often as the cost model errs low: over the first
 * plans of three full bench:eval runs (519 model plans, the cost model calibrated with the original's
 * measurement), measured / predicted p95 was 0.98 at the median, 1.085 at the 90th percentile and
 * 1.13 at the 95th; 0.95 (about the median error) met 88-94% of the latency cells on the first
 * deployment.
 */
export const DEFAULT_LATENCY_MARGIN = 0.9;

/**
 * Solves at `margin` x the latency bounds, and at the bounds themselves when that gives no
 * acceptable plan: the margin is headroom where a plan has it to give, and a plan predicted to meet
 * the bounds beats no plan.
 */
export async function solveWithMargin<T extends { readonly solution: Solution }>(
  margin: number,
  solveAt: (latencyMargin: number) => Promise<T>,
  acceptable: (solved: T) => boolean = (solved) => solved.solution.feasible,
): Promise<T> {
  const solved = await solveAt(margin);
  return margin < 1 && !acceptable(solved) ? solveAt(1) : solved;
}

/**
 * The techniques a plan may be restricted to. The accuracy model adds up single options' losses and
 * misjudges options taken together, most where techniques mix: the deployer checks each technique's
 * own plan beside the full one, and the least loss as checked goes out.
 */
export const TECHNIQUES = ['lowrank', 'prune', 'int8'] as const;
export type Technique = (typeof TECHNIQUES)[number];

/** Whether `option` is exact or of `technique` (lowrank-data is lowrank; int8 has two forms). */
export function ofTechnique(option: string, technique: Technique): boolean {
  const kind = parseOption(option).kind;
  return kind === 'exact' || kind.startsWith(technique);
}

/**
 * `problem` with each layer's exact option and `technique`'s only. Filtered after the cost model is
 * built, so that a plan costs the same in it as in the full problem (a pruned layer's credit depends
 * on what its consumers are offered) and calibrates the same.
 */
export function restrictTo(problem: ModelProblem, technique: Technique): ModelProblem {
  return {
    ...problem,
    layers: problem.layers.map((l) => ({
      ...l,
      options: l.options.filter((o) => ofTechnique(o.option, technique)),
    })),
  };
}

/** Whether two plans choose the same options (the order of layers aside). */
export function samePlan(a: Pick<FeasiblePlan, 'choices'>, b: Pick<FeasiblePlan, 'choices'>): boolean {
  const key = (p: Pick<FeasiblePlan, 'choices'>) =>
    JSON.stringify(
      Object.entries(p.choices)
        .sort()
        .map(([model, layers]) => [
          model,
          Object.entries(layers)
            .filter(([, o]) => o !== 'exact')
            .sort(),
        ]),
    );
  return key(a) === key(b);
}

export interface PlanOptions {
  /** Plans for this fraction of the policy's latency bounds (on top of its margin). @default 1 */
  readonly latencyHeadroom?: number;
  /** Offers only this technique's options (and exact). @default every option */
  readonly technique?: Technique;
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
  options: PlanOptions = {},
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
      options: version.options
        .filter((o) => o.unavailable === undefined)
        .map((o) => ({ ...o, accuracy: o.accuracy ?? 0 })),
    };
    const costs = classCosts(costsInput, measurements, policy.latencyPercentile);
    const costModel = modelProblem(costsInput, costs, { latencyBoundMs: entry.latencyBoundMs });
    const calibration = await calibrationOf(db, policy.deviceClassId, version);
    const full = corrected(calibrate(costModel, calibration), corrections[version.model]);
    const problem = options.technique === undefined ? full : restrictTo(full, options.technique);
    models.push({ version, problem, accuracy, costModel, calibration });
  }
  const solveAt = async (latencyMargin: number) => {
    const problem: PlanProblem = {
      models: models.map((m) => m.problem),
      totalLatencyBoundMs: policy.totalLatencyBoundMs,
      memoryBoundBytes: policy.memoryBoundBytes,
      storageBoundBytes: policy.storageBoundBytes,
      latencyMargin,
    };
    const solution = await solveExact(problem);
    const floor = policy.accuracyFloor;
    const belowFloor =
      solution.feasible && floor !== undefined
        ? models
            .filter((m) => m.accuracy - solution.perModel[m.version.model].loss / 100 < floor)
            .map((m) => m.version.model)
        : [];
    return { problem, solution, belowFloor };
  };
  const solved = await solveWithMargin(
    policy.latencyMargin * (options.latencyHeadroom ?? 1),
    solveAt,
    (s) => s.solution.feasible && s.belowFloor.length === 0,
  );
  return { policy, models, ...solved, planningMs: performance.now() - started, technique: options.technique };
}
