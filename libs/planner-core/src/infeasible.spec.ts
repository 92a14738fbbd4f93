import { InvalidArgumentError } from '@blinknet/core';
import { greedyNetAdapt, noApproximation, uniformLevel } from './baselines';
import { solveExact, solveExactSync } from './exact';
import { ladder } from './ladder';
import { solveMilp } from './milp';
import type { LayerChoices, ModelProblem, PlanProblem, Solution } from './types';

const layer = (name: string, options: [string, number, number, number, number][]): LayerChoices => ({
  layer: name,
  options: options.map(([option, latencyMs, memoryBytes, storageBytes, loss]) => ({
    option,
    latencyMs,
    memoryBytes,
    storageBytes,
    loss,
  })),
});

/** Two models: at best, model a takes 3 ms (1 fixed + 1 + 1) and model b 4 ms; 76 memory bytes, 40 storage bytes. */
const models: ModelProblem[] = [
  {
    model: 'a',
    fixed: { latencyMs: 1, memoryBytes: 10, storageBytes: 5 },
    layers: [
      layer('conv1', [
        ['exact', 4, 50, 50, 0],
        ['lowrank:r=4', 1, 10, 10, 2],
      ]),
      layer('fc', [
        ['exact', 3, 40, 40, 0],
        ['int8:storage', 1, 30, 10, 0.5],
      ]),
    ],
  },
  {
    model: 'b',
    fixed: { latencyMs: 2, memoryBytes: 6, storageBytes: 5 },
    layers: [
      layer('conv', [
        ['exact', 6, 20, 20, 0],
        ['prune:keep=0.5', 2, 20, 10, 1],
      ]),
    ],
  },
];

const solvers: [string, (p: PlanProblem) => Promise<Solution> | Solution][] = [
  ['solveExact', (p) => solveExact(p)],
  ['solveExactSync', (p) => solveExactSync(p, { timeLimitMs: Infinity })!],
  ['solveMilp', solveMilp],
  ['noApproximation', noApproximation],
  ['uniformLevel', uniformLevel],
  ['greedyNetAdapt', greedyNetAdapt],
];

const tightest = {
  perModelLatencyMs: { a: 3, b: 4 },
  totalLatencyMs: 7,
  memoryBytes: 76,
  storageBytes: 40,
};

describe('infeasible problems', () => {
  it.each(solvers)('%s names the bounds that even their tightest figure misses', async (_, solve) => {
    const problem: PlanProblem = {
      models: [
        { ...models[0], latencyBoundMs: 2.5 },
        { ...models[1], latencyBoundMs: 10 },
      ],
      memoryBoundBytes: 70,
      storageBoundBytes: 1000,
    };
    expect(await solve(problem)).toMatchObject({
      feasible: false,
      unreachable: ['latency:a', 'memory'],
      tightest,
    });
  });

  it.each(solvers)('%s reports total latency, storage and the latency margin', async (_, solve) => {
    // 7 ms and 40 bytes at best; the total bound is met without the margin, missed with it.
    const problem: PlanProblem = {
      models,
      totalLatencyBoundMs: 7.5,
      storageBoundBytes: 39,
      latencyMargin: 0.9,
    };
    expect(await solve(problem)).toMatchObject({ unreachable: ['total-latency', 'storage'], tightest });
  });

  it.each(solvers.slice(0, 3))('%s reports "joint" when each bound alone is reachable', async (_, solve) => {
    // The fast option misses the memory bound, the small one the latency bound.
    const problem: PlanProblem = {
      models: [
        {
          model: 'x',
          fixed: { latencyMs: 0, memoryBytes: 0, storageBytes: 0 },
          latencyBoundMs: 5,
          layers: [
            layer('l', [
              ['fast', 1, 10, 1, 0],
              ['small', 10, 1, 1, 0],
            ]),
          ],
        },
      ],
      memoryBoundBytes: 5,
    };
    expect(await solve(problem)).toMatchObject({
      feasible: false,
      unreachable: ['joint'],
      tightest: { perModelLatencyMs: { x: 1 }, totalLatencyMs: 1, memoryBytes: 1, storageBytes: 1 },
    });
  });

  it('a baseline that misses a reachable bound names the bounds its own plan misses', () => {
    // The optimum takes lowrank for conv1 (5 ms, loss 2); no-approximation keeps 'exact' (8 ms).
    const problem: PlanProblem = { models: [{ ...models[0], latencyBoundMs: 5 }, models[1]] };
    expect(noApproximation(problem)).toMatchObject({ feasible: false, unreachable: ['latency:a'] });
    expect(solveExactSync(problem)).toMatchObject({
      feasible: true,
      objective: 2,
      choices: { a: { conv1: 'lowrank:r=4', fc: 'exact' }, b: { conv: 'exact' } },
    });
  });

  it('ladder stops at an infeasible plan', async () => {
    const rungs = await ladder({ models, totalLatencyBoundMs: 6 });
    expect(rungs).toHaveLength(1);
    expect(rungs[0]).toMatchObject({
      factor: 1,
      solution: { feasible: false, unreachable: ['total-latency'] },
    });
  });
});

describe('invalid input', () => {
  const base: PlanProblem = { models, memoryBoundBytes: 1000 };
  const withModel = (patch: Partial<ModelProblem>): PlanProblem => ({
    ...base,
    models: [{ ...models[0], ...patch }],
  });
  const withOption = (patch: object): PlanProblem =>
    withModel({ layers: [{ layer: 'l', options: [{ ...models[0].layers[0].options[0], ...patch }] }] });
  const cases: [string, PlanProblem, string][] = [
    ['no models', { models: [] }, 'models'],
    ['a negative bound', { ...base, memoryBoundBytes: -1 }, 'memoryBoundBytes'],
    ['a zero bound', { ...base, storageBoundBytes: 0 }, 'storageBoundBytes'],
    ['a NaN bound', { ...base, totalLatencyBoundMs: NaN }, 'totalLatencyBoundMs'],
    ['an infinite bound', { ...base, totalLatencyBoundMs: Infinity }, 'totalLatencyBoundMs'],
    ['a zero model bound', withModel({ latencyBoundMs: 0 }), 'models[0].latencyBoundMs'],
    ['a zero margin', { ...base, latencyMargin: 0 }, 'latencyMargin'],
    ['a margin above 1', { ...base, latencyMargin: 1.1 }, 'latencyMargin'],
    ['a NaN margin', { ...base, latencyMargin: NaN }, 'latencyMargin'],
    ['a negative loss weight', withModel({ lossWeight: -1 }), 'models[0].lossWeight'],
    [
      'a negative fixed cost',
      withModel({ fixed: { latencyMs: -1, memoryBytes: 0, storageBytes: 0 } }),
      'models[0].fixed.latencyMs',
    ],
    ['no options', withModel({ layers: [{ layer: 'l', options: [] }] }), 'models[0].layers[0].options'],
    ['a negative latency', withOption({ latencyMs: -0.1 }), 'models[0].layers[0].options[0].latencyMs'],
    ['a negative memory', withOption({ memoryBytes: -5 }), 'models[0].layers[0].options[0].memoryBytes'],
    ['a NaN storage', withOption({ storageBytes: NaN }), 'models[0].layers[0].options[0].storageBytes'],
    ['a negative loss', withOption({ loss: -1 }), 'models[0].layers[0].options[0].loss'],
    ['an empty option name', withOption({ option: '' }), 'models[0].layers[0].options[0].option'],
    ['duplicate models', { ...base, models: [models[0], models[0]] }, 'models[1].model'],
    [
      'duplicate layers',
      withModel({ layers: [models[0].layers[0], models[0].layers[0]] }),
      'models[0].layers[1].layer',
    ],
  ];

  it.each(cases)(
    '%s: every solver throws InvalidArgumentError naming the field',
    async (_, problem, field) => {
      for (const [, solve] of solvers) {
        const error = await Promise.resolve()
          .then(() => solve(problem))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe(field);
      }
    },
  );

  it('ladder rejects factors outside (0, 1]', async () => {
    await expect(ladder(base, [0.8, 0])).rejects.toMatchObject({ field: 'factors[1]' });
    await expect(ladder(base, [1.2])).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
