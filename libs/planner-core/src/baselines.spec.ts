import { greedyNetAdapt, noApproximation, uniformLevel } from './baselines';
import { solveExactSync } from './exact';
import { ladder, scaleLatencyBounds } from './ladder';
import { realisticProblem, seededRng } from './random';
import { expectValid, randomProblem, TOLERANCE } from './test-support';
import type { FeasiblePlan, PlanProblem } from './types';

const exactOf = (p: PlanProblem) => solveExactSync(p, { stateLimit: Infinity, timeLimitMs: Infinity })!;

describe('baselines', () => {
  it('are valid plans never better than the optimum, infeasible whenever it is', () => {
    const rng = seededRng(99);
    const counts = { uniform: 0, greedy: 0, none: 0, optimum: 0 };
    for (let n = 0; n < 80; n++) {
      const problem = randomProblem(
        rng,
        { models: 1 + (n % 3), layers: [3, 12], options: [2, 8] },
        [0.5, 1.1],
      );
      const optimum = exactOf(problem);
      for (const [name, solution] of [
        ['uniform', uniformLevel(problem)],
        ['greedy', greedyNetAdapt(problem)],
        ['none', noApproximation(problem)],
      ] as const) {
        expectValid(problem, solution);
        if (!solution.feasible) continue;
        counts[name]++;
        expect(optimum.feasible).toBe(true);
        expect(solution.objective).toBeGreaterThanOrEqual((optimum as FeasiblePlan).objective - TOLERANCE);
      }
      if (optimum.feasible) counts.optimum++;
    }
    // Each baseline finds some plans, and fewer than the optimiser does.
    expect(counts.greedy).toBeGreaterThan(10);
    expect(counts.uniform).toBeGreaterThan(10);
    expect(counts.none).toBeGreaterThan(0);
    expect(counts.none).toBeLessThan(counts.greedy);
    expect(counts.greedy).toBeLessThanOrEqual(counts.optimum);
  });

  it('noApproximation keeps every exact option: zero loss, the unapproximated figures', () => {
    const problem = realisticProblem(
      seededRng(5),
      { models: 2, layers: [4, 6], options: [3, 5] },
      { memory: true, fraction: [1.2, 1.2] },
    );
    const plan = noApproximation(problem);
    expect(plan).toMatchObject({ feasible: true, objective: 0, totals: { loss: 0 } });
    for (const m of problem.models) {
      expect(Object.values((plan as FeasiblePlan).choices[m.model])).toEqual(m.layers.map(() => 'exact'));
    }
    // The bound at 80% of those figures: no longer feasible, and both other baselines approximate.
    const tighter = { ...problem, memoryBoundBytes: (problem.memoryBoundBytes! / 1.2) * 0.8 };
    expect(noApproximation(tighter)).toMatchObject({ feasible: false, unreachable: ['memory'] });
    expect(greedyNetAdapt(tighter)).toMatchObject({ feasible: true });
    expect(uniformLevel(tighter)).toMatchObject({ feasible: true });
  });
});

describe('latency margin and ladder', () => {
  const problem = realisticProblem(
    seededRng(11),
    { models: 2, layers: [8, 10], options: [4, 8] },
    { perModelLatency: true, totalLatency: true, memory: true, fraction: [0.75, 0.9] },
  );

  it('a plan for margin 0.9 meets 0.9 x every latency bound', () => {
    const plain = exactOf(problem) as FeasiblePlan;
    const margined = exactOf({ ...problem, latencyMargin: 0.9 }) as FeasiblePlan;
    expect(plain.feasible && margined.feasible).toBe(true);
    for (const m of problem.models) {
      expect(margined.perModel[m.model].latencyMs).toBeLessThanOrEqual(
        0.9 * m.latencyBoundMs! * (1 + TOLERANCE),
      );
    }
    expect(margined.totals.latencyMs).toBeLessThanOrEqual(
      0.9 * problem.totalLatencyBoundMs! * (1 + TOLERANCE),
    );
    // The same as the problem with the bounds scaled, and it costs accuracy.
    expect(margined.objective).toBeCloseTo(
      (exactOf(scaleLatencyBounds(problem, 0.9)) as FeasiblePlan).objective,
      9,
    );
    expect(margined.objective).toBeGreaterThan(plain.objective);
  });

  it('ladder: the plan at the bounds, then each feasible scaled variant, ever less accurate', async () => {
    const rungs = await ladder(problem, [0.95, 0.85, 0.3]);
    expect(rungs.map((r) => r.factor)).toEqual([1, 0.95, 0.85]); // 0.3 is below reach
    rungs.forEach(({ factor, solution }, i) => {
      expectValid(scaleLatencyBounds(problem, factor), solution);
      const plan = solution as FeasiblePlan;
      expect(plan.totals.latencyMs).toBeLessThanOrEqual(
        factor * problem.totalLatencyBoundMs! * (1 + TOLERANCE),
      );
      if (i > 0)
        expect(plan.objective).toBeGreaterThanOrEqual((rungs[i - 1].solution as FeasiblePlan).objective);
    });
    expect((await ladder(problem)).map((r) => r.factor)).toEqual([1, 0.85, 0.7]);
  });
});
