/**
 * Baselines for the evaluation: simple ways to choose options that the optimiser must beat. Each returns
 * the same Solution type; when it finds no plan that meets the bounds, `unreachable` lists the bounds
 * unreachable alone if any, else the bounds its own best attempt misses.
 */
import {
  allowance,
  type Compiled,
  compile,
  evaluate,
  feasiblePlan,
  infeasiblePlan,
  type Pick,
  tightest,
  unreachableAlone,
  violations,
  boundValue,
} from './model';
import type { PlanProblem, SolveMethod, Solution } from './types';

function failed(c: Compiled, method: SolveMethod, attempt: Pick): Solution {
  const alone = unreachableAlone(c, tightest(c));
  return infeasiblePlan(c, method, alone.length > 0 ? alone : violations(c, evaluate(c, attempt)));
}

/**
 * Every layer keeps its 'exact' option (option 0 where it has none): feasible only if that meets the
 * bounds.
 */
export function noApproximation(problem: PlanProblem): Solution {
  const c = compile(problem);
  const pick = c.layers.map((l) =>
    Math.max(
      0,
      l.options.findIndex((o) => o.option === 'exact'),
    ),
  );
  return feasiblePlan(c, pick, 'no-approximation') ?? failed(c, 'no-approximation', pick);
}

/**
 * One level for every layer: a layer's levels are its options sorted by latency, slowest first (level
 * i is its last option where it has fewer than i + 1). Of the levels whose plan meets every bound, the
 * one with the least loss.
 */
export function uniformLevel(problem: PlanProblem): Solution {
  const c = compile(problem);
  const levels = c.layers.map((l) =>
    l.options
      .map((o, i) => ({ o, i }))
      .sort((a, b) => b.o.latencyMs - a.o.latencyMs || a.o.loss - b.o.loss || a.i - b.i)
      .map(({ i }) => i),
  );
  const count = levels.reduce((n, l) => Math.max(n, l.length), 1);
  let best: Solution | undefined;
  let last: number[] = [];
  for (let level = 0; level < count; level++) {
    last = levels.map((l) => l[Math.min(level, l.length - 1)]);
    const plan = feasiblePlan(c, last, 'uniform-level');
    if (plan && (!best || !best.feasible || plan.objective < best.objective)) best = plan;
  }
  return best ?? failed(c, 'uniform-level', last);
}

/**
 * NetAdapt-style greedy: start from the most accurate option of every layer; while a bound is missed,
 * take the single layer step that saves the most of the most violated resource (relative to its bound)
 * per weighted loss added, never growing another missed figure; stop when every bound holds or no step
 * helps.
 */
export function greedyNetAdapt(problem: PlanProblem): Solution {
  const c = compile(problem);
  const pick = c.layers.map((l) => {
    let best = 0;
    l.options.forEach((o, i) => {
      const b = l.options[best];
      if (
        o.loss < b.loss ||
        (o.loss === b.loss &&
          (o.latencyMs < b.latencyMs || (o.latencyMs === b.latencyMs && o.memoryBytes < b.memoryBytes)))
      ) {
        best = i;
      }
    });
    return best;
  });
  const steps = c.layers.reduce((n, l) => n + l.options.length, 0) * 4 + 16;
  for (let step = 0; step < steps; step++) {
    const e = evaluate(c, pick);
    const missed = c.bounds.filter((b) => boundValue(b, e) > allowance(b.limit));
    if (missed.length === 0) break;
    const target = missed.reduce((a, b) =>
      (boundValue(b, e) - b.limit) / b.limit > (boundValue(a, e) - a.limit) / a.limit ? b : a,
    );
    let best: { g: number; i: number; free: boolean; score: number } | undefined;
    c.layers.forEach((l, g) => {
      if (target.model >= 0 && l.model !== target.model) return;
      const cur = l.options[pick[g]];
      const weight = c.models[l.model].weight;
      l.options.forEach((o, i) => {
        const saving = cur[target.resource] - o[target.resource];
        if (i === pick[g] || saving <= 0) return;
        const grows = missed.some(
          (b) => (b.model < 0 || b.model === l.model) && o[b.resource] > cur[b.resource],
        );
        if (grows) return;
        const added = weight * (o.loss - cur.loss);
        const candidate = { g, i, free: added <= 0, score: added <= 0 ? saving : saving / added };
        if (
          !best ||
          (candidate.free && !best.free) ||
          (candidate.free === best.free && candidate.score > best.score)
        ) {
          best = candidate;
        }
      });
    });
    if (!best) break;
    const chosen: { g: number; i: number } = best;
    pick[chosen.g] = chosen.i;
  }
  return feasiblePlan(c, pick, 'greedy-netadapt') ?? failed(c, 'greedy-netadapt', pick);
}
