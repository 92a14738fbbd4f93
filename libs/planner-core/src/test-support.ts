/**
 * Helpers for this library's tests: an independent check of a solution against its problem, an
 * exhaustive solver for small problems and a random problem family with every kind of bound. Not
 * exported from the package.
 */
import { type BoundDraw, type Rng, realisticProblem, uniformProblem } from './random';
import type { FeasiblePlan, PlanProblem, Solution } from './types';

const { abs, max } = Math;

export const TOLERANCE = 1e-9;

/** Whether two objectives agree within 1e-9 (relative and absolute). */
export function same(a: number, b: number): boolean {
  return abs(a - b) <= TOLERANCE * max(1, abs(a), abs(b));
}

/**
 * Recomputes a feasible plan's figures from the problem alone (not through the solvers' code) and
 * returns what is wrong with it: unknown layers or options, missed bounds, wrong figures.
 */
export function planErrors(problem: PlanProblem, plan: FeasiblePlan): string[] {
  const errors: string[] = [];
  const margin = problem.latencyMargin ?? 1;
  const meets = (value: number, bound: number | undefined, name: string) => {
    if (bound !== undefined && value > bound * (1 + TOLERANCE)) errors.push(`${name}: ${value} > ${bound}`);
  };
  let latency = 0;
  let memory = 0;
  let storage = 0;
  let objective = 0;
  for (const m of problem.models) {
    const chosen = plan.choices[m.model];
    if (!chosen) {
      errors.push(`model ${m.model} missing`);
      continue;
    }
    let ml = m.fixed.latencyMs;
    let loss = 0;
    memory += m.fixed.memoryBytes;
    storage += m.fixed.storageBytes;
    for (const l of m.layers) {
      const o = l.options.find((x) => x.option === chosen[l.layer]);
      if (!o) {
        errors.push(`${m.model}/${l.layer}: option ${chosen[l.layer]} not offered`);
        continue;
      }
      ml += o.latencyMs;
      memory += o.memoryBytes;
      storage += o.storageBytes;
      loss += o.loss;
    }
    if (Object.keys(chosen).length !== m.layers.length) errors.push(`${m.model}: extra layers in the plan`);
    meets(ml, m.latencyBoundMs === undefined ? undefined : margin * m.latencyBoundMs, `latency:${m.model}`);
    if (!same(plan.perModel[m.model].latencyMs, ml)) errors.push(`${m.model}: latency figure wrong`);
    if (!same(plan.perModel[m.model].loss, loss)) errors.push(`${m.model}: loss figure wrong`);
    latency += ml;
    objective += (m.lossWeight ?? 1) * loss;
  }
  meets(
    latency,
    problem.totalLatencyBoundMs === undefined ? undefined : margin * problem.totalLatencyBoundMs,
    'total-latency',
  );
  meets(memory, problem.memoryBoundBytes, 'memory');
  meets(storage, problem.storageBoundBytes, 'storage');
  if (!same(plan.totals.memoryBytes, memory)) errors.push('memory total wrong');
  if (!same(plan.totals.storageBytes, storage)) errors.push('storage total wrong');
  if (!same(plan.objective, objective)) errors.push(`objective ${plan.objective} != ${objective}`);
  return errors;
}

/** Checks a solution: a feasible one must pass planErrors. */
export function expectValid(problem: PlanProblem, solution: Solution): void {
  if (solution.feasible) expect(planErrors(problem, solution)).toEqual([]);
}

/** The optimum by enumerating every plan (small problems only): its objective, or undefined when none fits. */
export function bruteForce(problem: PlanProblem): number | undefined {
  const layers = problem.models.flatMap((m, mi) => m.layers.map((l) => ({ mi, options: l.options })));
  const margin = problem.latencyMargin ?? 1;
  const within = (v: number, b: number | undefined) => b === undefined || v <= b * (1 + TOLERANCE);
  const pick = new Array<number>(layers.length).fill(0);
  let best: number | undefined;
  for (;;) {
    const lat = problem.models.map((m) => m.fixed.latencyMs);
    const loss = problem.models.map(() => 0);
    let memory = problem.models.reduce((s, m) => s + m.fixed.memoryBytes, 0);
    let storage = problem.models.reduce((s, m) => s + m.fixed.storageBytes, 0);
    layers.forEach((l, i) => {
      const o = l.options[pick[i]];
      lat[l.mi] += o.latencyMs;
      loss[l.mi] += o.loss;
      memory += o.memoryBytes;
      storage += o.storageBytes;
    });
    const ok =
      problem.models.every((m, mi) => within(lat[mi], m.latencyBoundMs && margin * m.latencyBoundMs)) &&
      within(
        lat.reduce((a, b) => a + b, 0),
        problem.totalLatencyBoundMs && margin * problem.totalLatencyBoundMs,
      ) &&
      within(memory, problem.memoryBoundBytes) &&
      within(storage, problem.storageBoundBytes);
    if (ok) {
      const objective = problem.models.reduce((s, m, mi) => s + (m.lossWeight ?? 1) * loss[mi], 0);
      if (best === undefined || objective < best) best = objective;
    }
    let i = 0;
    while (i < layers.length && ++pick[i] === layers[i].options.length) pick[i++] = 0;
    if (i === layers.length) return best;
  }
}

/** A random subset of the bounds, each at a random fraction (sometimes below reach) of its unapproximated figure. */
export function randomDraw(rng: Rng, fraction: readonly [number, number]): BoundDraw {
  const draw = {
    perModelLatency: rng() < 0.6,
    totalLatency: rng() < 0.6,
    memory: rng() < 0.6,
    storage: rng() < 0.6,
    fraction,
  };
  return draw.perModelLatency || draw.totalLatency || draw.memory || draw.storage
    ? draw
    : { ...draw, memory: true };
}

/** A random problem of either family, with a random margin now and then. */
export function randomProblem(
  rng: Rng,
  shape: { models: number; layers: [number, number]; options: [number, number] },
  fraction: readonly [number, number],
): PlanProblem {
  const draw = randomDraw(rng, fraction);
  const problem = rng() < 0.5 ? uniformProblem(rng, shape, draw) : realisticProblem(rng, shape, draw);
  return rng() < 0.2 ? { ...problem, latencyMargin: 0.8 + 0.2 * rng() } : problem;
}
