/**
 * The specialised exact solver for the plan problem (a multiple-choice knapsack with several resource
 * rows): Lagrangian bounds, reduced-cost fixing, then two dynamic programmes over the layers that keep
 * only non-dominated partial plans and meet in the middle.
 *
 * 1. Rows. Every active bound becomes a row normalised to capacity 1: an option of a layer uses
 *    (its figure - the layer's least figure) / (the bound's allowance - fixed costs - every layer's
 *    least figure). Options that cannot fit even alone are dropped, rows that no plan can exceed are
 *    dropped, options dominated within their layer (no less loss, no less use of any row) are dropped
 *    and layers left with one option are fixed.
 * 2. Lagrangian dual. Subgradient ascent on L(lambda) = sum over layers of min over options of
 *    (loss + lambda . use) - sum(lambda) gives the lower bound LB (it reaches the LP relaxation's value)
 *    and each option's reduced cost r >= 0. A heuristic on the Lagrangian plans (greedy repair of the
 *    rows they miss, then the best single moves and pairs of moves that lower the loss and keep every
 *    row) gives the first incumbent UB. Since loss(plan) = LB + sum of its reduced costs + lambda . slack(plan),
 *    options with LB + r >= UB cannot be in a better plan and are fixed out.
 * 3. Dynamic programmes. The layers left are ordered model by model and split before the last model
 *    (one model: in halves). A forward programme decides the first part layer by layer, a backward one
 *    the second part; a state is a partial plan (loss, row use). A state is dropped when a row cannot
 *    fit the least use of the layers still undecided, when its bound reaches UB, or when another state
 *    has no more loss and no more use of any row still open (a query on a k-d index). The bound is the
 *    best, over rows k, of the LP relaxation of the undecided layers with row k kept at the state's
 *    residual capacity and the other rows priced by lambda: a convex piecewise-linear function of that
 *    capacity, precomputed per position and row. Every state is also completed with the Lagrangian
 *    options of the undecided layers: a new UB when that fits. Last, the best pair of a forward and a
 *    backward state that fits every row, both sides scanned by reduced cost.
 * The result is optimal within ~1e-12 relative. When the programmes generate more than `stateLimit`
 * states or run past `timeLimitMs`, solveExactSync gives up and solveExact falls back to the MILP.
 */
import { DominanceIndex } from './kd-index';
import { allowance, compile, feasiblePlan, infeasiblePlan, tightest, unreachableAlone } from './model';
import { solveMilp } from './milp';
import type { PlanProblem, Solution } from './types';

// Global lookups are slow inside Jest's vm context: bind them once.
const { abs, max, min } = Math;
const INF = Number.POSITIVE_INFINITY;
const now = () => performance.now();

export interface ExactOptions {
  /** States the dynamic programme may generate before giving up (solveExact then uses the MILP); default 100 000. */
  readonly stateLimit?: number;
  /**
   * Milliseconds the search may take before giving up likewise; default 300. Past it the method used
   * depends on the machine (the optimum does not): tests that need determinism pass Infinity.
   */
  readonly timeLimitMs?: number;
  /** Subgradient iterations for the Lagrangian multipliers; default 300. */
  readonly iterations?: number;
  /** Filled with the search's statistics (benchmarks, tests). */
  readonly stats?: ExactStats;
}

/** Statistics of one exact solve. */
export interface ExactStats {
  /** Rows (bounds that can bind) and layers left to decide after fixing. */
  rows: number;
  layers: number;
  /** Lagrangian lower bound and first incumbent (NaN when the solve ended before them). */
  lowerBound: number;
  upperBound: number;
  /** States generated in all and the most kept after one layer. */
  states: number;
  peakStates: number;
}

const DEFAULT_STATE_LIMIT = 100_000;
const DEFAULT_TIME_LIMIT_MS = 300;
/** The heuristic's pair moves: how many first moves it tries, how many pairs it takes. */
const PAIR_FIRST = 64;
const PAIR_PASSES = 16;
const DEFAULT_ITERATIONS = 300;

/** A layer still to decide: its surviving options, flattened. */
interface FreeLayer {
  readonly global: number;
  readonly model: number;
  readonly cost: Float64Array;
  /** Row use, stride K. */
  readonly use: Float64Array;
  readonly option: Int32Array;
  /** The rows whose scope has this layer (the others' use is 0). */
  readonly rows: Int32Array;
}

/**
 * The exact optimum (method 'exact'), or undefined when the search exceeds its state or time budget
 * (or, never expected, when its plan fails the final check against the bounds).
 * @throws InvalidArgumentError for invalid input
 */
export function solveExactSync(problem: PlanProblem, options: ExactOptions = {}): Solution | undefined {
  const started = now();
  const c = compile(problem);
  const stats: ExactStats = options.stats ?? ({} as ExactStats);
  Object.assign(stats, { rows: 0, layers: 0, lowerBound: NaN, upperBound: NaN, states: 0, peakStates: 0 });
  const alone = unreachableAlone(c, tightest(c));
  if (alone.length > 0) return infeasiblePlan(c, 'exact', alone);
  const stateLimit = options.stateLimit ?? DEFAULT_STATE_LIMIT;
  const deadline = started + (options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS);
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const nL = c.layers.length;
  const pick = new Int32Array(nL);

  // ---- 1. rows, option filtering, fixing ---------------------------------------------------------
  const allowed = c.layers.map((l) => l.options.map(() => true));
  const rows = c.bounds.map((b) => {
    const inScope = c.layers.map((l) => b.model < 0 || l.model === b.model);
    const shift = c.layers.map((l, g) =>
      inScope[g] ? l.options.reduce((v, o) => min(v, o[b.resource]), INF) : 0,
    );
    let capacity = allowance(b.limit);
    c.models.forEach((m, mi) => {
      if (b.model < 0 || b.model === mi) capacity -= m.fixed[b.resource];
    });
    for (let g = 0; g < nL; g++) capacity -= shift[g];
    capacity = max(capacity, 0);
    c.layers.forEach((l, g) => {
      if (!inScope[g]) return;
      l.options.forEach((o, i) => {
        if (o[b.resource] - shift[g] > capacity) allowed[g][i] = false;
      });
    });
    const scale = capacity > 0 ? 1 / capacity : 0;
    return {
      bound: b,
      inScope,
      use: (g: number, i: number) => (c.layers[g].options[i][b.resource] - shift[g]) * scale,
    };
  });
  if (allowed.some((a) => !a.includes(true))) return finish(undefined);
  const active = rows.filter((row) => {
    let most = 0;
    for (let g = 0; g < nL; g++) {
      if (!row.inScope[g]) continue;
      let m = 0;
      allowed[g].forEach((ok, i) => {
        if (ok) m = max(m, row.use(g, i));
      });
      most += m;
    }
    return most > 1;
  });
  const K = active.length;
  stats.rows = K;
  const rowModel = active.map((row) => row.bound.model);

  let baseCost = 0;
  const baseUse = new Float64Array(K);
  const free: FreeLayer[] = [];
  for (let g = 0; g < nL; g++) {
    const weight = c.models[c.layers[g].model].weight;
    const cand: { cost: number; use: number[]; option: number }[] = [];
    c.layers[g].options.forEach((o, i) => {
      if (allowed[g][i])
        cand.push({
          cost: weight * o.loss,
          use: active.map((row) => (row.inScope[g] ? row.use(g, i) : 0)),
          option: i,
        });
    });
    const kept = cand.filter(
      (a, ai) =>
        !cand.some((b, bi) => {
          if (bi === ai || b.cost > a.cost) return false;
          let strict = b.cost < a.cost;
          for (let k = 0; k < K; k++) {
            if (b.use[k] > a.use[k]) return false;
            if (b.use[k] < a.use[k]) strict = true;
          }
          return strict || bi < ai; // equal: keep the first
        }),
    );
    if (kept.length === 1) {
      pick[g] = kept[0].option;
      baseCost += kept[0].cost;
      for (let k = 0; k < K; k++) baseUse[k] += kept[0].use[k];
    } else {
      free.push({
        global: g,
        model: c.layers[g].model,
        cost: Float64Array.from(kept.map((a) => a.cost)),
        use: Float64Array.from(kept.flatMap((a) => a.use)),
        option: Int32Array.from(kept.map((a) => a.option)),
        rows: Int32Array.from(active.map((row, k) => (row.inScope[g] ? k : -1)).filter((k) => k >= 0)),
      });
    }
  }
  for (let k = 0; k < K; k++) if (baseUse[k] > 1) return finish(undefined);
  const nF = free.length;

  // ---- 2. Lagrangian dual by subgradient ascent, heuristic incumbent ------------------------------
  let trivialUb = baseCost; // the most loss any plan can have
  for (const l of free) trivialUb += l.cost.reduce((a, b) => max(a, b), 0);
  let ub = INF;
  let incumbent: Int32Array | undefined; // option index (into FreeLayer arrays) per free layer
  const lambda = new Float64Array(K);
  const bestLambda = new Float64Array(K);
  let lb = -INF;
  const choice = new Int32Array(nF);
  const use = new Float64Array(K);
  let choiceCost = 0; // loss of the plan in `choice`

  /** L(lam); the minimising options in `choice`, their row use (with the fixed layers') in `use`. */
  function lagrangian(lam: Float64Array): number {
    let value = baseCost;
    choiceCost = baseCost;
    for (let k = 0; k < K; k++) {
      use[k] = baseUse[k];
      value += lam[k] * (baseUse[k] - 1);
    }
    for (let i = 0; i < nF; i++) {
      const l = free[i];
      let best = INF;
      let bj = 0;
      const rows = l.rows;
      for (let j = 0; j < l.cost.length; j++) {
        let v = l.cost[j];
        for (let q = 0; q < rows.length; q++) v += lam[rows[q]] * l.use[j * K + rows[q]];
        if (v < best) {
          best = v;
          bj = j;
        }
      }
      choice[i] = bj;
      choiceCost += l.cost[bj];
      value += best;
      for (let q = 0; q < rows.length; q++) use[rows[q]] += l.use[bj * K + rows[q]];
    }
    return value;
  }

  /** From the plan in `choice` / `use`: repair every row, then improve; offer the result as incumbent. */
  function heuristic(): void {
    const x = Int32Array.from(choice);
    const u = Float64Array.from(use);
    const move = (i: number, j: number) => {
      const l = free[i];
      for (const k of l.rows) u[k] += l.use[j * K + k] - l.use[x[i] * K + k];
      x[i] = j;
    };
    let excess = 0;
    for (let k = 0; k < K; k++) if (u[k] > 1) excess += u[k] - 1;
    // Repair: the move that removes the most excess per loss added.
    for (let guard = 0; excess > 0; guard++) {
      if (guard > 2 * nF + 8) return;
      let bestScore = -INF;
      let bi = -1;
      let bj = -1;
      for (let i = 0; i < nF; i++) {
        const l = free[i];
        const cur = x[i];
        const rows = l.rows;
        for (let j = 0; j < l.cost.length; j++) {
          if (j === cur) continue;
          let gain = 0; // excess removed on the rows this layer uses (the others do not change)
          for (let q = 0; q < rows.length; q++) {
            const k = rows[q];
            const v = u[k] + l.use[j * K + k] - l.use[cur * K + k];
            gain += max(0, u[k] - 1) - max(0, v - 1);
          }
          if (gain <= 1e-15) continue;
          const added = l.cost[j] - l.cost[cur];
          const score = added <= 0 ? INF : gain / added;
          if (score > bestScore) {
            bestScore = score;
            bi = i;
            bj = j;
          }
        }
      }
      if (bi < 0) return;
      move(bi, bj);
      excess = 0;
      for (let k = 0; k < K; k++) if (u[k] > 1) excess += u[k] - 1;
    }
    // Improve: the single move that lowers the loss most while every row holds, until none does.
    const descend = () => {
      for (let guard = 0; guard < 4 * nF + 8; guard++) {
        let bestDelta = 0;
        let bi = -1;
        let bj = -1;
        for (let i = 0; i < nF; i++) {
          const l = free[i];
          const cur = x[i];
          for (let j = 0; j < l.cost.length; j++) {
            const delta = l.cost[j] - l.cost[cur];
            if (delta >= bestDelta) continue;
            let fits = true;
            for (let q = 0; q < l.rows.length && fits; q++) {
              const k = l.rows[q];
              fits = u[k] + l.use[j * K + k] - l.use[cur * K + k] <= 1;
            }
            if (fits) {
              bestDelta = delta;
              bi = i;
              bj = j;
            }
          }
        }
        if (bi < 0) return;
        move(bi, bj);
      }
    };
    const w = new Float64Array(K);
    const pairMove = (): boolean => {
      const moves: { i: number; j: number; delta: number }[] = [];
      for (let i = 0; i < nF; i++) {
        const l = free[i];
        for (let j = 0; j < l.cost.length; j++)
          if (j !== x[i]) moves.push({ i, j, delta: l.cost[j] - l.cost[x[i]] });
      }
      moves.sort((a, b) => a.delta - b.delta);
      let best = 0;
      let pa: (typeof moves)[number] | undefined;
      let pb: (typeof moves)[number] | undefined;
      // The first move among the PAIR_FIRST that save most; the second in any other layer.
      for (let n = 0; n < moves.length && n < PAIR_FIRST; n++) {
        const a = moves[n];
        if (a.delta >= 0 || a.delta + moves[0].delta >= best) break;
        const la = free[a.i];
        for (const k of la.rows) w[k] = u[k] + la.use[a.j * K + k] - la.use[x[a.i] * K + k];
        for (const b of moves) {
          if (a.delta + b.delta >= best) break;
          if (b.i === a.i) continue;
          const lb_ = free[b.i];
          const bj = b.j * K;
          const bc = x[b.i] * K;
          let fits = true;
          for (let q = 0; q < la.rows.length && fits; q++) {
            const k = la.rows[q];
            fits = w[k] + lb_.use[bj + k] - lb_.use[bc + k] <= 1;
          }
          for (let q = 0; q < lb_.rows.length && fits; q++) {
            const k = lb_.rows[q];
            const base_ = la.use[a.j * K + k] - la.use[x[a.i] * K + k] + u[k];
            fits = base_ + lb_.use[bj + k] - lb_.use[bc + k] <= 1;
          }
          if (fits) {
            best = a.delta + b.delta;
            pa = a;
            pb = b;
          }
        }
      }
      if (!pa || !pb) return false;
      move(pa.i, pa.j);
      move(pb.i, pb.j);
      return true;
    };
    descend();
    // Then pairs: a move that lowers the loss but misses a row, with a move in another layer that
    // makes room for less loss than the first one saves; the best pair, then single moves again.
    for (let pass = 0; pass < PAIR_PASSES && pairMove(); pass++) descend();
    let cost = baseCost;
    for (let i = 0; i < nF; i++) cost += free[i].cost[x[i]];
    if (cost < ub) {
      ub = cost;
      incumbent = x;
    }
  }

  const grad = new Float64Array(K);
  let theta = 1;
  let stall = 0;
  for (let it = 0; it < iterations; it++) {
    const value = lagrangian(lambda);
    if (value > lb) {
      lb = value;
      bestLambda.set(lambda);
      stall = 0;
    } else if (++stall >= 15) {
      theta /= 2;
      stall = 0;
    }
    // No plan has more loss than trivialUb, so a larger Lagrangian bound proves there is none.
    if (lb > trivialUb + 1e-9 * (1 + abs(trivialUb))) return finish(undefined);
    let feasible = true;
    let norm = 0;
    let complementary = 0;
    for (let k = 0; k < K; k++) {
      const gk = use[k] - 1;
      if (gk > 0) feasible = false;
      grad[k] = lambda[k] > 0 || gk > 0 ? gk : 0;
      norm += grad[k] * grad[k];
      complementary -= lambda[k] * gk;
    }
    if ((it & (it - 1)) === 0 || it % 64 === 0 || (feasible && choiceCost < ub)) heuristic();
    if (feasible && complementary <= 1e-12 * (1 + abs(value))) break; // the Lagrangian plan is optimal
    if ((ub < INF && ub - lb <= 1e-12 * (1 + abs(ub))) || norm === 0 || theta < 1e-6) break;
    const target = ub < INF ? ub : lb + 0.1 * (1 + abs(lb));
    const step = (theta * (target - value)) / norm;
    for (let k = 0; k < K; k++) lambda[k] = max(0, lambda[k] + step * grad[k]);
  }
  lb = lagrangian(bestLambda);
  heuristic();
  stats.lowerBound = lb;
  stats.upperBound = ub;
  if (ub === INF) ub = trivialUb + 1 + abs(trivialUb); // any plan beats this
  const delta = 1e-12 * (1 + abs(ub));

  // ---- reduced-cost fixing -------------------------------------------------------------------------
  interface Stage {
    readonly layer: FreeLayer;
    readonly index: number;
    /** Surviving options (indices into the layer's arrays), by reduced cost. */
    readonly order: number[];
    readonly r: Float64Array;
    readonly cost: Float64Array;
    readonly use: Float64Array;
  }
  const stages: Stage[] = [];
  const fixedChoice = new Int32Array(nF).fill(-1);
  let fixedCost = baseCost;
  const base = Float64Array.from(baseUse);
  for (let i = 0; i < nF; i++) {
    const l = free[i];
    const priced = Array.from(l.cost, (cost, j) => {
      let v = cost;
      for (let k = 0; k < K; k++) v += bestLambda[k] * l.use[j * K + k];
      return v;
    });
    const least = priced.reduce((a, b) => min(a, b), INF);
    const r = priced.map((v) => max(0, v - least));
    const order = r
      .map((_, j) => j)
      .filter((j) => lb + r[j] < ub - delta)
      .sort((a, b) => r[a] - r[b] || a - b);
    if (order.length === 0) return finish(incumbent); // no plan beats the incumbent
    if (order.length === 1) {
      const j = order[0];
      fixedChoice[i] = j;
      fixedCost += l.cost[j];
      for (let k = 0; k < K; k++) base[k] += l.use[j * K + k];
      continue;
    }
    stages.push({
      layer: l,
      index: i,
      order,
      r: Float64Array.from(order, (j) => r[j]),
      cost: Float64Array.from(order, (j) => l.cost[j]),
      use: Float64Array.from(order.flatMap((j) => Array.from(l.use.subarray(j * K, (j + 1) * K)))),
    });
  }
  for (let k = 0; k < K; k++) if (base[k] > 1) return finish(incumbent);
  // Model by model (a model's own latency row closes after its last layer); within a model, the layers
  // with fewest options left first.
  stages.sort(
    (a, b) => a.layer.model - b.layer.model || a.order.length - b.order.length || a.index - b.index,
  );
  const nD = stages.length;
  stats.layers = nD;

  const tailFunctions = (all: Stage[], k: number, upto: number) =>
    tailFunctionsOf(all, k, upto, bestLambda, K);
  /**
   * A lower bound on the loss of the undecided stages (position d on) under row use u: the best over
   * rows k of the LP with row k kept at its residual capacity and the other rows priced by lambda. It
   * returns as soon as a row's bound reaches `enough`, starting from the row that reached it last.
   */
  let lastRow = 0;
  function tailBound(tails: Tail[], d: number, u: ArrayLike<number>, enough: number): number {
    if (K === 0) return 0;
    let priced = 0;
    for (let k = 0; k < K; k++) priced += bestLambda[k] * (1 - u[k]);
    let best = -INF;
    for (let q = 0; q < K; q++) {
      const k = (lastRow + q) % K;
      const rho = 1 - u[k];
      const v = tailLp(tails[k], d, rho) - priced + bestLambda[k] * rho;
      if (v > best) best = v;
      if (v >= enough) {
        lastRow = k;
        break;
      }
    }
    return best;
  }

  // ---- 3. two dynamic programmes that meet in the middle ----------------------------------------
  // The forward programme takes the models before the last one, the backward programme the last
  // model (for one model: each half of its layers); the best pair of their states is the optimum.
  let split = nD >> 1;
  for (let d = nD - 1; d > 0; d--) {
    if (stages[d - 1].layer.model !== stages[nD - 1].layer.model) {
      split = d;
      break;
    }
  }
  const front = stages.slice(0, split);
  const back = stages.slice(split).reverse();
  let generated = 0;
  type Found = {
    readonly list: Stage[];
    readonly f: Frontier;
    readonly d: number;
    readonly state: number;
    readonly j: number;
  };
  let found:
    | Found
    | { readonly fw: Frontier; readonly fi: number; readonly bw: Frontier; readonly bi: number }
    | undefined;

  interface Frontier {
    readonly list: Stage[];
    count: number;
    cost: Float64Array;
    r: Float64Array;
    use: Float64Array;
    /** Per stage of `list`: each kept state's parent (index into the previous stage's states) and option. */
    readonly parents: Int32Array[];
    readonly picks: Int32Array[];
  }

  /**
   * The states left after deciding the stages of `list` in order (the stages of `rest` stay undecided),
   * starting from one state of row use `start`; undefined when the state budget runs out.
   */
  function frontier(list: Stage[], rest: Stage[], start: Float64Array): Frontier | undefined {
    const all = [...list, ...rest];
    const n = all.length;
    // Suffix figures over `all` from position d: least row use, the Lagrangian completion's use and loss.
    const sufMin = new Float64Array((n + 1) * K);
    const sufZero = new Float64Array((n + 1) * K);
    const sufZeroCost = new Float64Array(n + 1);
    for (let d = n - 1; d >= 0; d--) {
      const st = all[d];
      sufZeroCost[d] = sufZeroCost[d + 1] + st.cost[0];
      for (let k = 0; k < K; k++) {
        let lo = INF;
        for (let j = 0; j < st.order.length; j++) lo = min(lo, st.use[j * K + k]);
        sufMin[d * K + k] = sufMin[(d + 1) * K + k] + lo;
        sufZero[d * K + k] = sufZero[(d + 1) * K + k] + st.use[k];
      }
    }
    const tails = Array.from({ length: K }, (_, k) => tailFunctions(all, k, list.length));
    // A row is open while a stage of `list` still to come, or of `rest`, uses it.
    const closes = new Int32Array(K);
    for (let k = 0; k < K; k++) {
      const m = rowModel[k];
      closes[k] = m < 0 || rest.some((st) => st.layer.model === m) ? list.length : -1;
      if (closes[k] < 0) for (let d = 0; d < list.length; d++) if (list[d].layer.model === m) closes[k] = d;
    }
    const f: Frontier = {
      list,
      count: 1,
      cost: new Float64Array([0]),
      r: new Float64Array([0]),
      use: Float64Array.from(start),
      parents: [],
      picks: [],
    };
    const u = new Float64Array(K);
    for (let d = 0; d < list.length && f.count > 0; d++) {
      const st = list[d];
      const next = (d + 1) * K;
      const cCost: number[] = [];
      const cR: number[] = [];
      const cUse: number[] = [];
      const cParent: number[] = [];
      const cPick: number[] = [];
      for (let p = 0; p < f.count; p++) {
        for (let j = 0; j < st.order.length; j++) {
          const rs = f.r[p] + st.r[j];
          if (lb + rs >= ub - delta) break; // options come by reduced cost: no later one fits either
          let fits = true;
          let completes = true;
          for (let k = 0; k < K; k++) {
            const v = f.use[p * K + k] + st.use[j * K + k];
            u[k] = v;
            if (v + sufMin[next + k] > 1) {
              fits = false;
              break;
            }
            if (v + sufZero[next + k] > 1) completes = false;
          }
          if (!fits) continue;
          const cost = f.cost[p] + st.cost[j];
          const cut = ub - delta;
          if (fixedCost + cost + tailBound(tails, d + 1, u, cut - fixedCost - cost) >= cut) continue;
          if (completes) {
            const total = fixedCost + cost + sufZeroCost[d + 1];
            if (total < ub) {
              ub = total;
              found = { list, f, d, state: p, j };
            }
          }
          cCost.push(cost);
          cR.push(rs);
          for (let k = 0; k < K; k++) cUse.push(u[k]);
          cParent.push(p);
          cPick.push(j);
        }
      }
      generated += cCost.length;
      stats.states = generated;
      if (generated > stateLimit || now() > deadline) return undefined;
      // Keep the states that no state of no more loss dominates on the rows still open.
      const open: number[] = [];
      for (let k = 0; k < K; k++) if (closes[k] > d) open.push(k);
      const nc = cCost.length;
      const byCost = Array.from({ length: nc }, (_, i) => i).sort((a, b) => cCost[a] - cCost[b] || a - b);
      const index = new DominanceIndex(open.length, nc);
      const point = new Float64Array(open.length);
      const kept: number[] = [];
      for (const i of byCost) {
        if (lb + cR[i] >= ub - delta) continue;
        for (let z = 0; z < open.length; z++) point[z] = cUse[i * K + open[z]];
        if (index.dominated(point)) continue;
        index.insert(point);
        kept.push(i);
      }
      f.count = kept.length;
      stats.peakStates = max(stats.peakStates, f.count);
      f.cost = Float64Array.from(kept, (i) => cCost[i]);
      f.r = Float64Array.from(kept, (i) => cR[i]);
      f.use = new Float64Array(f.count * K);
      kept.forEach((i, q) => {
        for (let k = 0; k < K; k++) f.use[q * K + k] = cUse[i * K + k];
      });
      f.parents.push(Int32Array.from(kept, (i) => cParent[i]));
      f.picks.push(Int32Array.from(kept, (i) => cPick[i]));
    }
    return f;
  }

  const fw = frontier(front, back, base);
  if (!fw) return undefined;
  // Both programmes start from the fixed layers' use: the pair's use is the sum less that.
  const bw = fw.count > 0 ? frontier(back, front, base) : undefined;
  if (fw.count > 0 && !bw) return undefined;
  if (bw && bw.count > 0) {
    // The best pair: both sides by reduced cost, so that each loop stops at the first pair that cannot improve.
    const fOrder = Array.from({ length: fw.count }, (_, i) => i).sort((a, b) => fw.r[a] - fw.r[b]);
    const bOrder = Array.from({ length: bw.count }, (_, i) => i).sort((a, b) => bw.r[a] - bw.r[b]);
    const bR = Float64Array.from(bOrder, (i) => bw.r[i]);
    for (let n = 0; n < fOrder.length; n++) {
      if ((n & 1023) === 1023 && now() > deadline) return undefined;
      const fi = fOrder[n];
      const rf = fw.r[fi];
      if (lb + rf + bR[0] >= ub - delta) break;
      for (let q = 0; q < bOrder.length; q++) {
        if (lb + rf + bR[q] >= ub - delta) break;
        const bi = bOrder[q];
        let fits = true;
        for (let k = 0; k < K && fits; k++) fits = fw.use[fi * K + k] + bw.use[bi * K + k] - base[k] <= 1;
        if (!fits) continue;
        const total = fixedCost + fw.cost[fi] + bw.cost[bi];
        if (total < ub) {
          ub = total;
          found = { fw, fi, bw, bi };
        }
      }
    }
  }
  if (found) {
    // Undecided stages take their Lagrangian option; decided ones follow the parents.
    const x = Int32Array.from(fixedChoice);
    stages.forEach((st) => (x[st.index] = st.order[0]));
    const trace = (f: Frontier, d: number, state: number) => {
      for (let e = d; e >= 0; e--) {
        x[f.list[e].index] = f.list[e].order[f.picks[e][state]];
        state = f.parents[e][state];
      }
    };
    if ('fw' in found) {
      trace(found.fw, found.fw.list.length - 1, found.fi);
      trace(found.bw, found.bw.list.length - 1, found.bi);
    } else {
      const st = found.list[found.d];
      x[st.index] = st.order[found.j];
      trace(found.f, found.d - 1, found.state);
    }
    incumbent = x;
  }
  return finish(incumbent);

  function finish(x: Int32Array | undefined): Solution | undefined {
    if (!x) return infeasiblePlan(c, 'exact');
    for (let i = 0; i < nF; i++) pick[free[i].global] = free[i].option[x[i]];
    return feasiblePlan(c, pick, 'exact') ?? undefined;
  }
}

/** Per position d of a stage list: the row-kept LP over the stages from d on, as a function of capacity. */
interface Tail {
  /** Least use of the row and the loss there (every stage at its hull's leftmost point). */
  readonly a0: Float64Array;
  readonly c0: Float64Array;
  /** The hull segments of those stages by slope: cumulative use and loss, and slopes. */
  readonly cumA: Float64Array[];
  readonly cumC: Float64Array[];
  readonly slopes: Float64Array[];
}

interface TailStage {
  readonly order: readonly number[];
  readonly cost: Float64Array;
  readonly use: Float64Array;
}

/**
 * Row k's tail functions over `all` for positions 0..upto: the LP over the stages from d on with row k
 * kept and every other row q priced at lambda[q] (a stage's option costs loss + sum of lambda[q] x use).
 */
function tailFunctionsOf(
  all: readonly TailStage[],
  k: number,
  upto: number,
  lambda: Float64Array,
  K: number,
): Tail {
  const n = all.length;
  const a0 = new Float64Array(n + 1);
  const c0 = new Float64Array(n + 1);
  const cumA: Float64Array[] = new Array(n + 1);
  const cumC: Float64Array[] = new Array(n + 1);
  const slopes: Float64Array[] = new Array(n + 1);
  let segA: number[] = [];
  let segC: number[] = [];
  let segS: number[] = [];
  const empty = new Float64Array(0);
  cumA[n] = cumC[n] = slopes[n] = empty;
  for (let d = n - 1; d >= 0; d--) {
    const st = all[d];
    const pts = st.order
      .map((_, j) => {
        let y = st.cost[j];
        for (let q = 0; q < K; q++) if (q !== k) y += lambda[q] * st.use[j * K + q];
        return { x: st.use[j * K + k], y };
      })
      .sort((p, q) => p.x - q.x || p.y - q.y);
    const hull: { x: number; y: number }[] = []; // lower hull, leftmost point down to the lowest
    for (const pt of pts) {
      if (hull.length > 0 && pt.y >= hull[hull.length - 1].y) continue;
      while (hull.length >= 2) {
        const p1 = hull[hull.length - 2];
        const p2 = hull[hull.length - 1];
        if ((p2.y - p1.y) * (pt.x - p1.x) >= (pt.y - p1.y) * (p2.x - p1.x)) hull.pop();
        else break;
      }
      hull.push(pt);
    }
    a0[d] = a0[d + 1] + hull[0].x;
    c0[d] = c0[d + 1] + hull[0].y;
    if (hull.length > 1) {
      // Merge this stage's segments (already by slope: the hull is convex) into the sorted list.
      const na: number[] = [];
      const nc: number[] = [];
      const ns: number[] = [];
      let i = 0;
      for (let h = 1; h <= hull.length; h++) {
        const last = h === hull.length;
        const slope = last ? INF : (hull[h].y - hull[h - 1].y) / (hull[h].x - hull[h - 1].x);
        while (i < segS.length && segS[i] <= slope) {
          na.push(segA[i]);
          nc.push(segC[i]);
          ns.push(segS[i]);
          i++;
        }
        if (!last) {
          na.push(hull[h].x - hull[h - 1].x);
          nc.push(hull[h].y - hull[h - 1].y);
          ns.push(slope);
        }
      }
      segA = na;
      segC = nc;
      segS = ns;
    }
    if (d > upto) continue; // only positions 0..upto are asked for
    const m = segA.length;
    const ca = new Float64Array(m);
    const cc = new Float64Array(m);
    let sa = 0;
    let sc = 0;
    for (let i = 0; i < m; i++) {
      sa += segA[i];
      sc += segC[i];
      ca[i] = sa;
      cc[i] = sc;
    }
    cumA[d] = ca;
    cumC[d] = cc;
    slopes[d] = Float64Array.from(segS);
  }
  return { a0, c0, cumA, cumC, slopes };
}

/** Row k's tail LP at position d with the row's capacity rho. */
function tailLp(t: Tail, d: number, rho: number): number {
  if (rho < t.a0[d]) return INF;
  const rem = rho - t.a0[d];
  const ca = t.cumA[d];
  let lo = 0;
  let hi = ca.length; // first segment that does not fit whole
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ca[mid] <= rem) lo = mid + 1;
    else hi = mid;
  }
  let value = t.c0[d] + (lo > 0 ? t.cumC[d][lo - 1] : 0);
  if (lo < ca.length) value += (rem - (lo > 0 ? ca[lo - 1] : 0)) * t.slopes[d][lo];
  return value;
}

/**
 * The exact optimum: by the specialised search (method 'exact'), or by HiGHS (method 'milp') when the
 * search exceeds its state or time budget.
 * @throws InvalidArgumentError for invalid input
 */
export async function solveExact(problem: PlanProblem, options: ExactOptions = {}): Promise<Solution> {
  return solveExactSync(problem, options) ?? solveMilp(problem);
}
