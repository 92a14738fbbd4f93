/**
 * `npm run bench:eval [-- --quick] [-- --threads 1] [-- --uncalibrated] [-- --report F]`: how
 * often BlinkNet meets its bounds as measured, and what accuracy it keeps, against simpler
 * strategies, over a grid of bounds (eval.md beside the results JSON, and docs/evaluation.md).
 *
 * For each model: its option ladder profiled as an agent profiles it (the class's cost model), the
 * original measured as an agent verifies a deployment, and for the trained models the planner's
 * accuracy model (flip rate of each single option on the calibration split). Then for each cell of
 * bounds and each strategy: a plan, its models built (libs/approx) and measured as an agent verifies
 * them (apps/agent verifyModel: latency p95 of the median of 3 windows, resident memory as the most
 * of several loads each in a fresh process, artifact bytes) and, for the trained models, top-1
 * accuracy on the held-out split. Each cell starts from the cost model calibrated with the original's
 * verification (--uncalibrated: from the bare cost model). BlinkNet's planner re-plans a cell whose
 * bounds the device missed, on a cost model calibrated with what was measured, as its closed loop
 * does (at most the loop's default 3 rounds).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { modelInputs, profileModel, type VerifySettings, verifyModel } from '@blinknet/agent';
import { applyPlan, optionLadder, parseOption } from '@blinknet/approx';
import { activationPeakBytes, decodeModel, encodeModel, type ModelProto, weightBytes } from '@blinknet/onnx';
import {
  type AccuracyReference,
  accuracySettings,
  type ApproximationContext,
  approximationContext,
  calibrate,
  calibrationFromPlans,
  type CheckedPlan,
  chooseChecked,
  correctPlan,
  corrected,
  type Corrections,
  DEFAULT_LATENCY_MARGIN,
  type EvalSet,
  flipRate,
  LATENCY_HEADROOM,
  labelledSplits,
  type MeasuredPlan,
  ofTechnique,
  optionAccuracy,
  type PlanCheck,
  PLAN_CHECKS,
  randomInputs,
  rawFigures,
  restrictTo,
  samePlan,
  solveWithMargin,
  type Technique,
  TECHNIQUES,
  top1,
} from '@blinknet/planner';
import {
  type ClassCosts,
  classCosts,
  greedyNetAdapt,
  type ModelProblem,
  modelProblem,
  type ModelVersionCosts,
  type PlanProblem,
  type Solution,
  solveExact,
  uniformLevel,
} from '@blinknet/planner-core';
import { MEMORY_SAMPLES, OrtMatrixEngine } from '@blinknet/runtime';
import { buildNetwork, type DatasetName, readReferenceModel, referenceModel } from '@blinknet/zoo';
import { writeReport } from './eval-report';
import { machine, saveResults } from './machine';
import { classMeasurements } from './measurements';
import { progress } from './progress';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    threads: { type: 'string' },
    report: { type: 'string' },
    uncalibrated: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`usage: npm run bench:eval -- [--quick] [--threads 1] [--uncalibrated] [--report <eval.json>]
  --quick         LeNet-5 and CIFAR-10-quick, bounds at 50% only: a smoke test of a few minutes
  --threads N     onnxruntime intra-op threads of the emulated device (default 1, as the agent)
  --uncalibrated  each cell starts from the uncalibrated cost model, as before any device ran the
                  model (default: calibrated with the original's verification, as the planner is);
                  saved as eval-uncalibrated.json, docs/evaluation.md left alone
  --report F      only render the report and plots of a saved run (tools/bench/results/<date>/eval.json)`);
  process.exit(0);
}
const QUICK = values.quick ?? false;
const UNCALIBRATED = values.uncalibrated ?? false;
const THREADS = Number(values.threads ?? 1);
/** The planner's default `--max-rounds`. */
const MAX_ROUNDS = 3;

export const STRATEGIES = [
  'blinknet',
  'uniform',
  'greedy',
  'lowrank-only',
  'prune-only',
  'int8-only',
] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** What a device measured of one model of a plan. */
export interface Measured {
  readonly p95Ms: number;
  readonly medianMs: number;
  readonly memoryBytes: number;
  readonly storageBytes: number;
  /** Top-1 on the held-out split (trained models). */
  readonly accuracy?: number;
}

export interface EvalModelSummary {
  readonly id: string;
  readonly trained: boolean;
  readonly options: number;
  readonly profileSeconds: number;
  readonly accuracyModelSeconds: number;
  readonly original: Measured;
  /** The original's p95 in each of its three verifications (the median one is `original`). */
  readonly originalP95Ms: readonly number[];
}

export interface Bounds {
  readonly latencyMs?: number;
  readonly memoryBytes?: number;
  readonly storageBytes?: number;
}

export interface Cell {
  readonly id: string;
  readonly models: readonly string[];
  readonly bound: 'latency' | 'memory' | 'storage';
  /** Of the originals' figure (summed over the cell's models). */
  readonly fraction: number;
  readonly bounds: Bounds;
}

export interface Round {
  readonly round: number;
  readonly choices: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** What the solver planned with, per model. */
  readonly predictedMs: Readonly<Record<string, number>>;
  /** The accuracy model's loss (points, additive over the options, with the plan checks' corrections). */
  readonly predictedLoss: Readonly<Record<string, number>>;
  /** What the uncalibrated cost model predicts for the plan, per model. */
  readonly costModelMs: Readonly<Record<string, number>>;
  readonly measured: Readonly<Record<string, Measured>>;
  readonly met: { readonly latency: boolean; readonly memory: boolean; readonly storage: boolean };
  readonly planningMs: number;
  /**
   * BlinkNet's plans built and checked this round (the deployed one among them): which options they
   * were solved over ('all' or one technique's), their choices and their loss on the calibration
   * split (points of changed predictions, per model). Missing where nothing was checked.
   */
  readonly checked?: readonly {
    readonly over: 'all' | Technique;
    readonly choices: Readonly<Record<string, Readonly<Record<string, string>>>>;
    readonly loss: Readonly<Record<string, number>>;
  }[];
}

export interface Outcome {
  readonly cell: string;
  readonly strategy: Strategy;
  /** The cost model had a plan (round 1). */
  readonly planned: boolean;
  readonly rounds: readonly Round[];
  /** Bounds the planner found out of reach on its cost model, and the tightest figures. */
  readonly unreachable?: readonly string[];
  /** What failed, if building or measuring a plan did: the run goes on with the next cell. */
  readonly error?: string;
  readonly tightest?: {
    readonly latencyMs: number;
    readonly memoryBytes: number;
    readonly storageBytes: number;
  };
}

export interface EvalResults {
  readonly machine: ReturnType<typeof machine>;
  readonly quick: boolean;
  readonly threads: number;
  readonly verify: Readonly<Record<string, VerifySettings>>;
  readonly seconds: number;
  readonly models: readonly EvalModelSummary[];
  /** Models whose profile or accuracy model failed: not in the grid. */
  readonly skipped: readonly { readonly id: string; readonly error: string }[];
  readonly cells: readonly Cell[];
  readonly outcomes: readonly Outcome[];
  /**
   * Each cell's cost model starts calibrated with the original's verification (missing in older
   * results: uncalibrated).
   */
  readonly calibratedFromOriginal?: boolean;
  /** Round 1's latency margin, every strategy's (absent in results saved before it was: 1). */
  readonly latencyMargin?: number;
}

interface EvalModel {
  readonly summary: EvalModelSummary;
  readonly model: ModelProto;
  readonly inputName: string;
  /**
   * The class's cost model (layer options measured on this device, uncalibrated): with every option,
   * and with one technique's (a pruned layer's credit depends on which options its consumers have).
   */
  readonly costModels: Readonly<Record<Technique | 'all', ModelProblem>>;
  readonly heldOut?: EvalSet;
  /** The accuracy model's calibration split and the original's predictions on it (trained models). */
  readonly reference?: AccuracyReference;
  readonly context: ApproximationContext;
  readonly verify: VerifySettings;
}

type Fractions = Readonly<Record<Cell['bound'], readonly number[]>>;

interface ModelSpec {
  readonly id: string;
  readonly build: () => { model: ModelProto; bytes: Uint8Array };
  readonly dataset?: DatasetName;
}

const reference = (id: string, file: string): ModelSpec => {
  const ref = referenceModel(file);
  return {
    id,
    dataset: ref.dataset,
    build: () => {
      const bytes = readReferenceModel(ref);
      return { model: decodeModel(bytes, id), bytes };
    },
  };
};
const paper = (id: 'caffenet' | 'vgg16'): ModelSpec => ({
  id,
  build: () => {
    const model = buildNetwork(id);
    return { model, bytes: encodeModel(model) };
  },
});

const TRAINED = [
  reference('lenet5', 'lenet5-mnist'),
  reference('cifar10-quick', 'cifar10quick-fmnist'),
  reference('vgg-style', 'vgg-fmnist'),
];
const FRACTIONS: Fractions = QUICK
  ? { latency: [0.5], memory: [0.5], storage: [0.5] }
  : { latency: [0.9, 0.7, 0.5, 0.3], memory: [0.75, 0.5, 0.25], storage: [0.75, 0.5, 0.25] };
const SPECS = QUICK ? TRAINED.slice(0, 2) : [...TRAINED, paper('caffenet'), paper('vgg16')];

/** The agent's verification; a time budget per window for the ImageNet-shaped networks (0.2 s a run). */
const VERIFY: Readonly<Record<'small' | 'large', VerifySettings>> = {
  small: { threads: THREADS, windows: QUICK ? 1 : 3, memorySamples: MEMORY_SAMPLES },
  // One load: the allocator's swing of a megabyte or two is under 1% of these networks' memory.
  large: { threads: THREADS, runs: 10, windowMs: 0, maxWindowMs: 2_000, memorySamples: 1 },
};

/**
 * Untrained networks have no accuracy to keep: each option is charged the share of its layer's
 * operations it removes (int8, which removes none, a small constant), so that the solvers still
 * prefer the least approximation. No accuracy is reported for them.
 */
function proxyAccuracy(option: string, flops: number, exactFlops: number): number {
  const kind = parseOption(option).kind;
  if (kind === 'exact') return 1;
  if (kind === 'int8') return 1 - 0.01;
  return 1 - 0.1 * Math.max(0, 1 - flops / exactFlops);
}

async function prepare(spec: ModelSpec, dir: string, engine: OrtMatrixEngine): Promise<EvalModel> {
  const { model, bytes } = spec.build();
  const [inputName, input] = Object.entries(modelInputs(model, 1))[0];
  // Without data there is nothing for lowrank-data to fit its subspace on (its rank needs as many
  // samples): the untrained networks are offered the other options only.
  const ladder = new Map(
    [...optionLadder(model)].map(([layer, c]) => [
      layer,
      spec.dataset ? c : c.filter((o) => parseOption(o.option).kind !== 'lowrank-data'),
    ]),
  );
  const costs = [...ladder.values()].flat();
  const jobOptions = Object.fromEntries([...ladder].map(([layer, c]) => [layer, c.map((o) => o.option)]));
  // The original is verified three times, spread over its preparation, and the median reading is
  // its figure: the cells' bounds are fractions of it, and one reading on this VM has been twice
  // the others (a state the machine keeps for minutes).
  const verify = bytes.length > 32 << 20 ? VERIFY.large : VERIFY.small;
  const path = join(dir, `${spec.id}.onnx`);
  writeFileSync(path, bytes);
  const readings = [await verifyModel(path, verify)];
  let started = performance.now();
  const profile = await profileModel(
    { model, options: jobOptions },
    { session: { intraOpThreads: THREADS }, onProgress: progress(`profile ${spec.id}`) },
  );
  const profileSeconds = (performance.now() - started) / 1000;
  readings.push(await verifyModel(path, verify));

  started = performance.now();
  const accuracy = new Map<string, number>();
  let calibrationAccuracy = 1;
  let heldOut: EvalSet | undefined;
  let heldOutAccuracy: number | undefined;
  let ref: AccuracyReference | undefined;
  let context: ApproximationContext;
  if (spec.dataset) {
    const settings = accuracySettings(QUICK ? { calibrationImages: 500 } : {});
    const splits = labelledSplits(spec.dataset, input.dims, settings);
    heldOut = splits.heldOut;
    const withData = approximationContext(engine, inputName, { ...splits, realInputs: true });
    context = withData;
    const original = await top1(bytes, splits.calibration, inputName);
    calibrationAccuracy = original.accuracy;
    ref = { model, inputName, calibration: splits.calibration, original, context: withData };
    const report = progress(`accuracy model ${spec.id}`);
    for (const [i, c] of costs.entries()) {
      accuracy.set(`${c.layer} ${c.option}`, await optionAccuracy(ref, c.layer, c.option));
      report(i + 1, costs.length, `${c.layer} ${c.option}`);
    }
    heldOutAccuracy = (await top1(bytes, heldOut, inputName)).accuracy;
  } else {
    // int8:compute fits its activation scale on calibration activations: seeded random inputs here,
    // as the planner uses for a model uploaded without data.
    context = approximationContext(engine, inputName, {
      activations: randomInputs(input.dims, 16, 3),
      realInputs: false,
    });
    for (const c of costs) {
      const exact = ladder.get(c.layer)!.find((o) => o.option === 'exact')!;
      accuracy.set(`${c.layer} ${c.option}`, proxyAccuracy(c.option, c.flops, exact.flops));
    }
  }
  const accuracyModelSeconds = (performance.now() - started) / 1000;
  readings.push(await verifyModel(path, verify));
  const verified = [...readings].sort((x, y) => x.latency.stats.p95Ms - y.latency.stats.p95Ms)[1];

  const measurements = classMeasurements(profile, {
    residentBytes: Math.max(0, verified.memory.addedBytes),
    weightBytes: verified.weightBytes,
  });
  const exactBytes = costs.filter((c) => c.option === 'exact').reduce((n, c) => n + c.weightBytes, 0);
  const version = {
    model: spec.id,
    bytes: bytes.length,
    activationPeakBytes: activationPeakBytes(model),
    otherWeightBytes: weightBytes(model) - exactBytes,
    accuracy: calibrationAccuracy,
    options: costs.map((c) => ({
      ...c,
      accuracy: accuracy.get(`${c.layer} ${c.option}`)!,
      shrinks: c.shrinksInputsOf,
    })),
  };
  const original: Measured = {
    p95Ms: verified.latency.stats.p95Ms,
    medianMs: verified.latency.stats.medianMs,
    memoryBytes: verified.memory.addedBytes,
    storageBytes: bytes.length,
    accuracy: heldOutAccuracy,
  };
  console.log(
    `${spec.id}: ${costs.length} options profiled in ${profileSeconds.toFixed(1)} s; original p95 ${original.p95Ms.toFixed(3)} ms, ` +
      `memory ${(original.memoryBytes / 1e6).toFixed(2)} MB, storage ${(original.storageBytes / 1e6).toFixed(2)} MB` +
      (heldOutAccuracy === undefined ? '' : `, held-out accuracy ${(heldOutAccuracy * 100).toFixed(2)}%`),
  );
  return {
    summary: {
      id: spec.id,
      trained: spec.dataset !== undefined,
      options: costs.length,
      profileSeconds,
      accuracyModelSeconds,
      original,
      originalP95Ms: readings.map((r) => r.latency.stats.p95Ms),
    },
    model,
    inputName,
    costModels: costModels(version, classCosts(version, measurements, 95)),
    heldOut,
    reference: ref,
    context,
    verify,
  };
}

/** The grid: each bound alone on each model, and joint cells of 2 and 3 models under a round bound. */
function grid(models: ReadonlyMap<string, EvalModel>): Cell[] {
  const cells: Cell[] = [];
  const add = (ids: readonly string[], bound: Cell['bound'], fraction: number) => {
    const sum = (key: 'p95Ms' | 'memoryBytes' | 'storageBytes') =>
      ids.reduce((n, id) => n + models.get(id)!.summary.original[key], 0);
    const bounds: Bounds =
      bound === 'latency'
        ? { latencyMs: fraction * sum('p95Ms') }
        : bound === 'memory'
          ? { memoryBytes: Math.round(fraction * sum('memoryBytes')) }
          : { storageBytes: Math.round(fraction * sum('storageBytes')) };
    cells.push({ id: `${ids.join('+')} ${bound} ${fraction * 100}%`, models: ids, bound, fraction, bounds });
  };
  for (const id of models.keys()) {
    for (const bound of ['latency', 'memory', 'storage'] as const) {
      for (const fraction of FRACTIONS[bound]) add([id], bound, fraction);
    }
  }
  const trained = TRAINED.map((s) => s.id).filter((id) => models.has(id));
  for (const size of QUICK ? [2] : [2, 3]) {
    if (trained.length < size) continue;
    for (const fraction of QUICK ? [0.5] : [0.7, 0.5]) add(trained.slice(0, size), 'latency', fraction);
  }
  return cells;
}

/** The cost model with every option, and with each layer's exact option and one technique's. */
function costModels(version: ModelVersionCosts, costs: ClassCosts): EvalModel['costModels'] {
  const only = (technique: Technique) =>
    modelProblem(
      { ...version, options: version.options.filter((o) => ofTechnique(o.option, technique)) },
      costs,
    );
  return {
    all: modelProblem(version, costs),
    lowrank: only('lowrank'),
    prune: only('prune'),
    int8: only('int8'),
  };
}

const TECHNIQUE: Readonly<Record<Strategy, Technique | 'all'>> = {
  blinknet: 'all',
  uniform: 'all',
  greedy: 'all',
  'lowrank-only': 'lowrank',
  'prune-only': 'prune',
  'int8-only': 'int8',
};

const SOLVERS: Readonly<Record<Strategy, (p: PlanProblem) => Solution | Promise<Solution>>> = {
  blinknet: solveExact,
  uniform: uniformLevel,
  greedy: greedyNetAdapt,
  'lowrank-only': solveExact,
  'prune-only': solveExact,
  'int8-only': solveExact,
};

/** The technique-only strategies show what each technique contributes on the trained models. */
function strategiesFor(cell: Cell, models: ReadonlyMap<string, EvalModel>): readonly Strategy[] {
  return cell.models.every((id) => models.get(id)!.summary.trained) ? STRATEGIES : STRATEGIES.slice(0, 3);
}

/** One key per distinct plan of a model, whatever the order of its layers. */
const planKey = (id: string, choices: Readonly<Record<string, string>>) =>
  `${id} ${JSON.stringify(
    Object.entries(choices)
      .filter(([, o]) => o !== 'exact')
      .sort(),
  )}`;

/** Built plans larger than this are not kept past the next build (VGG16's are hundreds of MB). */
const KEEP_BUILT_BYTES = 32 << 20;

class Evaluator {
  /** A plan built once and measured once: the same artifact measures alike in every cell that chooses it. */
  private readonly builtPlans = new Map<string, Uint8Array>();
  private readonly measuredPlans = new Map<string, Measured>();
  private measuredCount = 0;

  constructor(
    private readonly models: ReadonlyMap<string, EvalModel>,
    private readonly dir: string,
  ) {}

  get plansMeasured(): number {
    return this.measuredCount;
  }

  private async build(id: string, choices: Readonly<Record<string, string>>) {
    const key = planKey(id, choices);
    let bytes = this.builtPlans.get(key);
    if (!bytes) {
      const m = this.models.get(id)!;
      bytes = encodeModel(await applyPlan(m.model, choices, m.context));
      // Kept: the small models' plans, and the last large one (checked, then measured).
      for (const [k, b] of this.builtPlans) if (b.length > KEEP_BUILT_BYTES) this.builtPlans.delete(k);
      this.builtPlans.set(key, bytes);
    }
    return { key, bytes };
  }

  async measure(id: string, choices: Readonly<Record<string, string>>): Promise<Measured> {
    const m = this.models.get(id)!;
    if (Object.values(choices).every((o) => o === 'exact')) return m.summary.original;
    const cached = this.measuredPlans.get(planKey(id, choices));
    if (cached) return cached;
    const { key, bytes } = await this.build(id, choices);
    const path = join(this.dir, `${id}-plan.onnx`);
    writeFileSync(path, bytes);
    const verified = await verifyModel(path, m.verify);
    const measured: Measured = {
      p95Ms: verified.latency.stats.p95Ms,
      medianMs: verified.latency.stats.medianMs,
      memoryBytes: verified.memory.addedBytes,
      storageBytes: bytes.length,
      accuracy: m.heldOut ? (await top1(bytes, m.heldOut, m.inputName)).accuracy : undefined,
    };
    this.measuredPlans.set(key, measured);
    this.measuredCount++;
    return measured;
  }

  /** The planner's check of a built plan: its flip rate on the calibration split (trained models), its bytes. */
  private async planChecks(choices: Readonly<Record<string, Readonly<Record<string, string>>>>) {
    const checks: Record<string, PlanCheck> = {};
    for (const [id, own] of Object.entries(choices)) {
      const ref = this.models.get(id)!.reference;
      const { bytes } = await this.build(id, own);
      const exact = Object.values(own).every((o) => o === 'exact');
      const loss =
        ref && !exact
          ? flipRate(
              ref.original.predictions,
              (await top1(bytes, ref.calibration, ref.inputName)).predictions,
            )
          : undefined;
      checks[id] = { loss, storageBytes: bytes.length };
    }
    return checks;
  }

  /**
   * One strategy on one cell. BlinkNet plans as the planner does: solve, check the built plan's
   * accuracy and bytes and re-solve with what they measured (PLAN_CHECKS), deploy the best checked;
   * on a missed bound, the next round on a cost model calibrated with what was measured, for 0.95x
   * the previous round's latency margin.
   */
  async run(cell: Cell, strategy: Strategy): Promise<Outcome> {
    const models = cell.models.map((id) => this.models.get(id)!);
    // As on a class whose devices have run the models as uploaded (the planner calibrates a class's
    // cost model with every plan its devices verified): the original's verification is the first
    // measured plan, and round 1 is the planner's first plan for these bounds.
    const history = new Map<string, MeasuredPlan[]>(
      models.map((m) => [
        m.summary.id,
        UNCALIBRATED
          ? []
          : [
              {
                raw: rawFigures(m.costModels[TECHNIQUE[strategy]], {}),
                latencyMs: m.summary.original.p95Ms,
                memoryBytes: m.summary.original.memoryBytes,
              },
            ],
      ]),
    );
    const rounds: Round[] = [];
    const blinknet = strategy === 'blinknet';
    let corrections: Corrections = {};
    for (let round = 1; round <= (blinknet ? MAX_ROUNDS : 1); round++) {
      // `only`: BlinkNet's single-technique plan, on its own cost model restricted (as the deployer's).
      const solveAt = async (latencyMargin: number, only?: Technique) => ({
        latencyMargin,
        solution: await SOLVERS[strategy]({
          models: models.map((m) => {
            const problem = corrected(
              calibrate(m.costModels[TECHNIQUE[strategy]], calibrationFromPlans(history.get(m.summary.id)!)),
              corrections[m.summary.id],
            );
            return only ? restrictTo(problem, only) : problem;
          }),
          totalLatencyBoundMs: cell.bounds.latencyMs,
          memoryBoundBytes: cell.bounds.memoryBytes,
          storageBoundBytes: cell.bounds.storageBytes,
          latencyMargin,
        }),
      });
      // Every strategy plans for the same policy: the planner's default margin, as the loop tightens it.
      const margin = DEFAULT_LATENCY_MARGIN * LATENCY_HEADROOM ** (round - 1);
      const solve = (only?: Technique) => solveWithMargin(margin, (m) => solveAt(m, only));
      const started = performance.now();
      const first = await solve();
      let solution = first.solution;
      const checked: (CheckedPlan & { readonly over: Technique | 'all' })[] = [];
      for (let attempt = 1; blinknet && solution.feasible; attempt++) {
        const checks = await this.planChecks(solution.choices);
        checked.push({ plan: solution, checks, over: 'all' });
        const next = correctPlan(corrections, solution, checks, cell.bounds.storageBytes);
        if (!next || attempt === PLAN_CHECKS) break;
        corrections = next;
        solution = (await solve()).solution;
      }
      // As the deployer: each technique's own plan at no less headroom is checked too (the untrained
      // networks' losses are a proxy the full plan minimises: nothing to check them against).
      if (checked.length > 0 && models.every((m) => m.reference)) {
        for (const technique of TECHNIQUES) {
          const alternative = await solve(technique);
          const plan = alternative.solution;
          if (!plan.feasible || alternative.latencyMargin > first.latencyMargin) continue;
          if (checked.some((c) => samePlan(c.plan, plan))) continue;
          checked.push({ plan, checks: await this.planChecks(plan.choices), over: technique });
        }
      }
      // As the planner: the least loss as checked goes out (no accuracy floor here).
      if (checked.length > 0)
        solution = checked[chooseChecked(checked, {}, undefined, cell.bounds.storageBytes).chosen!].plan;
      const planningMs = performance.now() - started;
      if (!solution.feasible) {
        const t = solution.tightest;
        return {
          cell: cell.id,
          strategy,
          planned: round > 1,
          rounds,
          unreachable: solution.unreachable,
          tightest: { latencyMs: t.totalLatencyMs, memoryBytes: t.memoryBytes, storageBytes: t.storageBytes },
        };
      }
      const measured: Record<string, Measured> = {};
      const costModelMs: Record<string, number> = {};
      for (const m of models) {
        const id = m.summary.id;
        measured[id] = await this.measure(id, solution.choices[id]);
        const raw = rawFigures(m.costModels[TECHNIQUE[strategy]], solution.choices[id]);
        costModelMs[id] = raw.fixedLatencyMs + raw.layersLatencyMs;
        history.get(id)!.unshift({
          raw,
          latencyMs: measured[id].p95Ms,
          memoryBytes: measured[id].memoryBytes,
        });
      }
      const total = (key: 'p95Ms' | 'memoryBytes' | 'storageBytes') =>
        Object.values(measured).reduce((n, x) => n + x[key], 0);
      const met = {
        latency: cell.bounds.latencyMs === undefined || total('p95Ms') <= cell.bounds.latencyMs,
        memory: cell.bounds.memoryBytes === undefined || total('memoryBytes') <= cell.bounds.memoryBytes,
        storage: cell.bounds.storageBytes === undefined || total('storageBytes') <= cell.bounds.storageBytes,
      };
      rounds.push({
        round,
        choices: solution.choices,
        predictedMs: Object.fromEntries(cell.models.map((id) => [id, solution.perModel[id].latencyMs])),
        predictedLoss: Object.fromEntries(cell.models.map((id) => [id, solution.perModel[id].loss])),
        costModelMs,
        measured,
        met,
        planningMs,
        checked:
          checked.length === 0
            ? undefined
            : checked.map((c) => ({
                over: c.over,
                choices: c.plan.choices,
                loss: Object.fromEntries(
                  Object.entries(c.checks).map(([id, check]) => [id, 100 * (check.loss ?? 0)]),
                ),
              })),
      });
      if (met.latency && met.memory && met.storage) break;
    }
    return { cell: cell.id, strategy, planned: true, rounds };
  }
}

function describe(outcome: Outcome, cell: Cell): string {
  if (outcome.error) return `FAILED: ${outcome.error}`;
  if (outcome.rounds.length === 0) return `no plan (${outcome.unreachable?.join(', ')})`;
  const last = outcome.rounds[outcome.rounds.length - 1];
  const figures = Object.values(last.measured);
  const sum = (key: 'p95Ms' | 'memoryBytes' | 'storageBytes') => figures.reduce((n, x) => n + x[key], 0);
  const bound = cell.bound;
  const [value, limit] =
    bound === 'latency'
      ? [`${sum('p95Ms').toFixed(3)} ms`, `${cell.bounds.latencyMs!.toFixed(3)} ms`]
      : bound === 'memory'
        ? [`${(sum('memoryBytes') / 1e6).toFixed(2)} MB`, `${(cell.bounds.memoryBytes! / 1e6).toFixed(2)} MB`]
        : [
            `${(sum('storageBytes') / 1e6).toFixed(3)} MB`,
            `${(cell.bounds.storageBytes! / 1e6).toFixed(3)} MB`,
          ];
  const ok = last.met.latency && last.met.memory && last.met.storage;
  const then = outcome.unreachable ? `, then no plan (${outcome.unreachable.join(', ')})` : '';
  return `${ok ? 'met' : 'MISSED'} ${bound} ${value} vs ${limit} in ${outcome.rounds.length} round(s)${then}`;
}

async function main(): Promise<void> {
  if (values.report) {
    const results = JSON.parse(readFileSync(values.report, 'utf8')) as EvalResults;
    console.log(`report written: ${await writeReport(results, values.report)}`);
    return;
  }
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'blinknet-eval-'));
  const engine = new OrtMatrixEngine();
  try {
    const models = new Map<string, EvalModel>();
    const skipped: { id: string; error: string }[] = [];
    for (const spec of SPECS) {
      try {
        models.set(spec.id, await prepare(spec, dir, engine));
      } catch (error) {
        console.error(`${spec.id}: not evaluated: ${String(error)}`);
        skipped.push({ id: spec.id, error: String(error) });
      }
    }
    const cells = grid(models);
    const evaluator = new Evaluator(models, dir);
    const outcomes: Outcome[] = [];
    const work = cells.flatMap((cell) => strategiesFor(cell, models).map((s) => [cell, s] as const));
    for (const [i, [cell, strategy]] of work.entries()) {
      const outcome = await evaluator.run(cell, strategy).catch((error: unknown): Outcome => ({
        cell: cell.id,
        strategy,
        planned: false,
        rounds: [],
        error: String(error),
      }));
      outcomes.push(outcome);
      const elapsed = ((performance.now() - started) / 1000).toFixed(0);
      console.log(
        `[${elapsed} s] ${i + 1}/${work.length} ${cell.id}, ${strategy}: ${describe(outcome, cell)}`,
      );
    }
    const results: EvalResults = {
      machine: machine(),
      quick: QUICK,
      threads: THREADS,
      verify: VERIFY,
      seconds: (performance.now() - started) / 1000,
      models: [...models.values()].map((m) => m.summary),
      skipped,
      cells,
      outcomes,
      calibratedFromOriginal: !UNCALIBRATED,
      latencyMargin: DEFAULT_LATENCY_MARGIN,
    };
    const path = saveResults(`eval${QUICK ? '-quick' : ''}${UNCALIBRATED ? '-uncalibrated' : ''}`, results);
    console.log(
      `${evaluator.plansMeasured} plans measured in ${results.seconds.toFixed(0)} s; saved ${path}`,
    );
    console.log(`report written: ${await writeReport(results, path)}`);
    // A smoke test (CI) must fail when the pipeline does, whatever the figures.
    const failed = outcomes.filter((o) => o.error).length;
    if (skipped.length > 0 || failed > 0) {
      console.error(`${skipped.length} model(s) not evaluated, ${failed} cell run(s) failed: see the report`);
      process.exitCode = 1;
    }
  } finally {
    await engine.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
