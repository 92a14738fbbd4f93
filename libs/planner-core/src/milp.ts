/**
 * The reference solver: the plan problem as a 0-1 MILP solved by HiGHS (WebAssembly), written in CPLEX
 * LP text. Variables are named x0, x1, ... (never the layer or option names); every bound row is divided
 * by its limit so that coefficients are O(1) whatever the units.
 */
import loadHighs from 'highs';
import { SolverError } from './errors';
import {
  allowance,
  type Bound,
  type Compiled,
  compile,
  evaluate,
  feasiblePlan,
  infeasiblePlan,
  unreachableAlone,
  tightest,
  boundValue,
} from './model';
import type { PlanProblem, Solution } from './types';

type Highs = Awaited<ReturnType<typeof loadHighs>>;

let loading: Promise<Highs> | undefined;

/** HiGHS, loaded once (the WebAssembly module takes ~0.1 s to instantiate) and reused. */
export function highs(): Promise<Highs> {
  loading ??= loadHighs().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

/** Exact optimum (no gap), tight feasibility so that HiGHS's plans meet the bounds as we check them. */
const HIGHS_OPTIONS = {
  output_flag: false,
  mip_rel_gap: 0,
  mip_abs_gap: 0,
  mip_feasibility_tolerance: 1e-10,
  primal_feasibility_tolerance: 1e-10,
  small_matrix_value: 1e-12,
} as const;

/** How many times a plan that HiGHS accepts within its tolerance but misses a bound is re-solved. */
const REPAIRS = 5;
const TERMS_PER_LINE = 8;

function num(v: number): string {
  return String(v);
}

function sum(terms: readonly string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < terms.length; i += TERMS_PER_LINE)
    lines.push(terms.slice(i, i + TERMS_PER_LINE).join(' + '));
  return lines.join('\n   + ');
}

/** Fixed costs inside a bound's scope. */
function fixedIn(c: Compiled, b: Bound): number {
  return c.models.reduce((s, m, mi) => (b.model < 0 || b.model === mi ? s + m.fixed[b.resource] : s), 0);
}

/** The LP text; `rhs[k]` is bound k's right-hand side (after scaling by 1 / limit). */
export function lpText(c: Compiled, rhs: readonly number[]): string {
  const column: number[] = [];
  let n = 0;
  for (const l of c.layers) {
    column.push(n);
    n += l.options.length;
  }
  const objective: string[] = [];
  const rows: string[] = [];
  c.layers.forEach((l, g) => {
    const w = c.models[l.model].weight;
    l.options.forEach((o, i) => {
      if (w * o.loss !== 0) objective.push(`${num(w * o.loss)} x${column[g] + i}`);
    });
    rows.push(` one${g}: ${sum(l.options.map((_, i) => `x${column[g] + i}`))} = 1`);
  });
  c.bounds.forEach((b, k) => {
    const terms: string[] = [];
    c.layers.forEach((l, g) => {
      if (b.model >= 0 && l.model !== b.model) return;
      l.options.forEach((o, i) => {
        const a = o[b.resource] / b.limit;
        if (a !== 0) terms.push(`${num(a)} x${column[g] + i}`);
      });
    });
    // A row with no terms: write a zero coefficient so that the row (and its infeasibility) stays.
    rows.push(` bound${k}: ${terms.length > 0 ? sum(terms) : '0 x0'} <= ${num(rhs[k])}`);
  });
  const names = Array.from({ length: n }, (_, i) => `x${i}`);
  const binaries: string[] = [];
  for (let i = 0; i < names.length; i += 16) binaries.push(` ${names.slice(i, i + 16).join(' ')}`);
  return [
    'Minimize',
    ` obj: ${objective.length > 0 ? sum(objective) : '0 x0'}`,
    'Subject To',
    ...rows,
    'Binary',
    ...binaries,
    'End',
    '',
  ].join('\n');
}

/**
 * Solves the problem as a MILP with HiGHS: the proven optimum (no gap), or the infeasible result. A
 * bound unreachable on its own is reported without calling HiGHS.
 * @throws InvalidArgumentError for invalid input; SolverError when HiGHS ends with neither a proof of
 *   optimality nor of infeasibility
 */
export async function solveMilp(problem: PlanProblem): Promise<Solution> {
  const c = compile(problem);
  const alone = unreachableAlone(c, tightest(c));
  if (alone.length > 0) return infeasiblePlan(c, 'milp', alone);
  if (c.layers.length === 0) return feasiblePlan(c, [], 'milp') ?? infeasiblePlan(c, 'milp');
  const solver = await highs();
  const rhs = c.bounds.map((b) => (allowance(b.limit) - fixedIn(c, b)) / b.limit);
  for (let attempt = 0; attempt <= REPAIRS; attempt++) {
    const result = solver.solve(lpText(c, rhs), HIGHS_OPTIONS);
    if (result.Status === 'Infeasible') return infeasiblePlan(c, 'milp');
    if (result.Status !== 'Optimal') {
      throw new SolverError(result.Status, `HiGHS ended with status '${result.Status}'`);
    }
    const pick = new Int32Array(c.layers.length);
    let column = 0;
    c.layers.forEach((l, g) => {
      let best = -Infinity;
      l.options.forEach((_, i) => {
        const v = result.Columns[`x${column + i}`]?.Primal ?? 0;
        if (v > best) {
          best = v;
          pick[g] = i;
        }
      });
      column += l.options.length;
    });
    const plan = feasiblePlan(c, pick, 'milp');
    if (plan) return plan;
    // HiGHS met a bound within its own tolerance only: tighten that row by the excess and solve again.
    const e = evaluate(c, pick);
    c.bounds.forEach((b, k) => {
      const excess = boundValue(b, e) - allowance(b.limit);
      if (excess > 0) rhs[k] -= excess / b.limit + 1e-10;
    });
  }
  throw new SolverError('Optimal', `HiGHS's plan still missed a bound after ${REPAIRS} repairs`);
}
