import { InvalidArgumentError } from '@blinknet/core';
import { type ExactOptions, solveExact } from './exact';
import type { PlanProblem, Solution } from './types';

/** One variant of a plan: every latency bound scaled by `factor`. */
export interface LadderRung {
  readonly factor: number;
  readonly solution: Solution;
}

/** The problem with every latency bound (per model and total) scaled by `factor`. */
export function scaleLatencyBounds(problem: PlanProblem, factor: number): PlanProblem {
  return {
    ...problem,
    totalLatencyBoundMs:
      problem.totalLatencyBoundMs === undefined ? undefined : problem.totalLatencyBoundMs * factor,
    models: problem.models.map((m) => ({
      ...m,
      latencyBoundMs: m.latencyBoundMs === undefined ? undefined : m.latencyBoundMs * factor,
    })),
  };
}

/**
 * The plan at the bounds (rung 0, factor 1, feasible or not) followed by the plans with every latency
 * bound scaled by each factor, in the order given, skipping those that are infeasible: the variants a
 * device steps down to when it misses its latency bound. No rung follows an infeasible rung 0.
 * @throws InvalidArgumentError when a factor is not in (0, 1], or for an invalid problem
 */
export async function ladder(
  problem: PlanProblem,
  factors: readonly number[] = [0.85, 0.7],
  options: ExactOptions = {},
): Promise<LadderRung[]> {
  factors.forEach((f, i) => {
    if (!(typeof f === 'number' && f > 0 && f <= 1)) {
      throw new InvalidArgumentError(`factors[${i}]`, `must be in (0, 1], got ${f}`);
    }
  });
  const rungs: LadderRung[] = [{ factor: 1, solution: await solveExact(problem, options) }];
  if (!rungs[0].solution.feasible) return rungs;
  for (const factor of factors) {
    const solution = await solveExact(scaleLatencyBounds(problem, factor), options);
    if (solution.feasible) rungs.push({ factor, solution });
  }
  return rungs;
}
