import { type ExactStats, solveExact, solveExactSync } from './exact';
import { solveMilp } from './milp';
import { realisticProblem, seededRng } from './random';
import { bruteForce, expectValid, randomProblem, same } from './test-support';
import type { PlanProblem, Solution } from './types';

const objective = (s: Solution | undefined) => (s?.feasible ? s.objective : undefined);

describe('solveExact and solveMilp against brute force', () => {
  it('find the optimum of 200 small random problems, or agree there is none', async () => {
    const rng = seededRng(7);
    let feasible = 0;
    for (let n = 0; n < 200; n++) {
      const problem = randomProblem(
        rng,
        { models: 1 + (n % 2), layers: [1, 3], options: [1, 3] },
        [0.5, 1.2],
      );
      const best = bruteForce(problem);
      const exact = solveExactSync(problem, { stateLimit: Infinity, timeLimitMs: Infinity });
      const milp = await solveMilp(problem);
      const label = `problem ${n}: ${JSON.stringify(problem)}`;
      expect({ label, exact: exact?.feasible, milp: milp.feasible }).toEqual({
        label,
        exact: best !== undefined,
        milp: best !== undefined,
      });
      if (best !== undefined) {
        feasible++;
        expect({ label, ok: same(objective(exact)!, best) && same(objective(milp)!, best) }).toEqual({
          label,
          ok: true,
        });
      }
      expectValid(problem, exact!);
      expectValid(problem, milp);
      expect(exact!.method).toBe('exact');
    }
    // Both outcomes must be exercised.
    expect(feasible).toBeGreaterThan(40);
    expect(feasible).toBeLessThan(190);
  });
});

describe('solveExact against solveMilp', () => {
  it('agree on 300 random larger problems (1-3 models x 5-20 layers x 2-10 options)', async () => {
    const rng = seededRng(2024);
    let feasible = 0;
    let searched = 0;
    let exactUsed = 0;
    for (let n = 0; n < 300; n++) {
      const problem = randomProblem(
        rng,
        { models: 1 + (n % 3), layers: [5, 20], options: [2, 10] },
        [0.4, 1],
      );
      const stats = {} as ExactStats;
      const exact = solveExactSync(problem, { stats, stateLimit: 400_000, timeLimitMs: Infinity });
      const milp = await solveMilp(problem);
      if (exact) exactUsed++;
      if (stats.states > 0) searched++;
      const label = `problem ${n}`;
      expect({ label, exact: exact?.feasible ?? milp.feasible }).toEqual({ label, exact: milp.feasible });
      if (exact?.feasible && milp.feasible) {
        expect({ label, exact: exact.objective, same: same(exact.objective, milp.objective) }).toEqual({
          label,
          exact: exact.objective,
          same: true,
        });
        expect(exact.method).toBe('exact');
      }
      if (!milp.feasible) {
        expect(exact?.feasible ?? false).toBe(false);
        if (exact && !exact.feasible) expect(exact.unreachable).toEqual(milp.unreachable);
      }
      if (milp.feasible) feasible++;
      if (exact) expectValid(problem, exact);
      expectValid(problem, milp);
    }
    expect(feasible).toBeGreaterThan(100);
    expect(feasible).toBeLessThan(290);
    // The specialised search decides (almost) all of them itself, and most need the search proper.
    expect(exactUsed).toBeGreaterThanOrEqual(290);
    expect(searched).toBeGreaterThan(100);
  });

  it('falls back to the MILP past its state budget, with the same optimum', async () => {
    const problem = realisticProblem(
      seededRng(3),
      { models: 3, layers: [20, 20], options: [10, 10] },
      { perModelLatency: true, totalLatency: true, memory: true, storage: true, fraction: [0.5, 0.9] },
    );
    expect(solveExactSync(problem, { stateLimit: 10 })).toBeUndefined();
    const fallback = await solveExact(problem, { stateLimit: 10 });
    const exact = await solveExact(problem, { stateLimit: Infinity, timeLimitMs: Infinity });
    expect(fallback.method).toBe('milp');
    expect(exact.method).toBe('exact');
    expect(same(objective(fallback)!, objective(exact)!)).toBe(true);
    expectValid(problem, fallback);
    expectValid(problem, exact);
  });

  it('solves problems whose names are not identifiers, and layers with one option', async () => {
    const problem: PlanProblem = {
      memoryBoundBytes: 100,
      models: [
        {
          model: 'res net/50 (v2)',
          fixed: { latencyMs: 1, memoryBytes: 10, storageBytes: 10 },
          latencyBoundMs: 10,
          layers: [
            {
              layer: 'conv 1: 3x3 + bias',
              options: [
                { option: 'exact', latencyMs: 4, memoryBytes: 100, storageBytes: 100, loss: 0 },
                { option: 'lowrank:r=8', latencyMs: 2, memoryBytes: 40, storageBytes: 40, loss: 1.5 },
              ],
            },
            {
              layer: 'fc é',
              options: [{ option: 'exact', latencyMs: 1, memoryBytes: 20, storageBytes: 20, loss: 0 }],
            },
          ],
        },
      ],
    };
    for (const solution of [await solveMilp(problem), solveExactSync(problem)!]) {
      expect(solution).toMatchObject({
        feasible: true,
        objective: 1.5,
        choices: { 'res net/50 (v2)': { 'conv 1: 3x3 + bias': 'lowrank:r=8', 'fc é': 'exact' } },
        totals: { latencyMs: 4, memoryBytes: 70, storageBytes: 70, loss: 1.5 },
      });
    }
  });
});
