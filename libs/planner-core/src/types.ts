/** One option of one layer, with what it costs on one device class. */
export interface OptionChoice {
  /** The option in libs/approx's grammar, e.g. 'exact', 'lowrank:r=8'. */
  readonly option: string;
  /** Predicted latency of the layer with this option on the device class. */
  readonly latencyMs: number;
  /** Resident bytes the layer contributes with this option (weights). */
  readonly memoryBytes: number;
  /** Artifact bytes the layer contributes with this option. */
  readonly storageBytes: number;
  /** Predicted accuracy loss (points), >= 0. */
  readonly loss: number;
}

/** The options of one approximable layer (at least one). */
export interface LayerChoices {
  readonly layer: string;
  readonly options: readonly OptionChoice[];
}

/** One model of a plan: its approximable layers, its fixed costs and its own latency bound. */
export interface ModelProblem {
  readonly model: string;
  readonly layers: readonly LayerChoices[];
  /** Costs outside the approximable layers: other ops' latency, session overhead + activation peak, file overhead. */
  readonly fixed: { readonly latencyMs: number; readonly memoryBytes: number; readonly storageBytes: number };
  /** Per-model latency bound (models run one after another in a round). */
  readonly latencyBoundMs?: number;
  /** Weight of this model's loss in the objective; default 1. */
  readonly lossWeight?: number;
}

/** Every model that shares a device, and the device's bounds. */
export interface PlanProblem {
  readonly models: readonly ModelProblem[];
  /** Bound on the sum of the models' latencies (a round). */
  readonly totalLatencyBoundMs?: number;
  /** Bound on the sum of the models' resident memory. */
  readonly memoryBoundBytes?: number;
  /** Bound on the sum of the models' artifact bytes. */
  readonly storageBoundBytes?: number;
  /** Plan for margin x every latency bound (per model and total); default 1, must be in (0, 1]. */
  readonly latencyMargin?: number;
}

/** What a plan costs, for one model or for all of them. `loss` is unweighted. */
export interface Figures {
  readonly latencyMs: number;
  readonly memoryBytes: number;
  readonly storageBytes: number;
  readonly loss: number;
}

/** Which solver produced a solution. */
export type SolveMethod = 'exact' | 'milp' | 'no-approximation' | 'uniform-level' | 'greedy-netadapt';

/** A plan that meets every bound (checked before it is returned). */
export interface FeasiblePlan {
  readonly feasible: true;
  readonly method: SolveMethod;
  /** model -> layer -> option. */
  readonly choices: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Sum over models of lossWeight x loss: what the solvers minimise. */
  readonly objective: number;
  readonly perModel: Readonly<Record<string, Figures>>;
  readonly totals: Figures;
}

/** Each figure minimised alone (fixed costs included, latencies not scaled by the margin). */
export interface TightestFigures {
  readonly perModelLatencyMs: Readonly<Record<string, number>>;
  readonly totalLatencyMs: number;
  readonly memoryBytes: number;
  readonly storageBytes: number;
}

/** No plan meets the bounds (or, for a baseline, the baseline found none). */
export interface InfeasiblePlan {
  readonly feasible: false;
  readonly method: SolveMethod;
  /**
   * The bounds that cannot be met: 'latency:<model>', 'total-latency', 'memory', 'storage' for a bound
   * that even its tightest figure misses, or 'joint' when each bound alone is reachable but not all
   * together. For a baseline on a problem that has a plan, the bounds its own best attempt misses.
   */
  readonly unreachable: readonly string[];
  readonly tightest: TightestFigures;
}

export type Solution = FeasiblePlan | InfeasiblePlan;
