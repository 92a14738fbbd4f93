import { type FeasiblePlan, type ModelProblem, solveExact } from '@blinknet/planner-core';
import { chooseChecked, correctPlan, corrected, ofTechnique, restrictTo, samePlan } from './planning';

const option = (name: string, latencyMs: number, bytes: number, loss: number) => ({
  option: name,
  latencyMs,
  memoryBytes: bytes,
  storageBytes: bytes,
  loss,
});

// Two layers: 'a' pruned narrows 'b's inputs. What the options do together is only approximated by
// the additive cost model: the built artifact can come out larger than predicted.
const problem: ModelProblem = {
  model: 'm',
  fixed: { latencyMs: 0, memoryBytes: 0, storageBytes: 100 },
  layers: [
    { layer: 'a', options: [option('exact', 1, 400, 0), option('prune', 0.5, 0, 1)] },
    { layer: 'b', options: [option('exact', 1, 300, 0), option('cut', 0.5, 150, 2)] },
  ],
};

async function plan(p: ModelProblem, storageBoundBytes: number): Promise<FeasiblePlan> {
  const solution = await solveExact({ models: [p], storageBoundBytes });
  if (!solution.feasible) throw new Error(`no plan: ${solution.unreachable.join(', ')}`);
  return solution;
}

describe('correctPlan', () => {
  it('adds what a built artifact outgrew its prediction by to the fixed storage', async () => {
    const first = await plan(problem, 300);
    expect(first.choices.m).toEqual({ a: 'prune', b: 'cut' });
    expect(first.perModel.m.storageBytes).toBe(250);
    // Built, b's cut weights lost half their inputs to a's prune: 75 bytes, not b's exact 150.
    // Built larger than predicted but within the bound: nothing to correct.
    expect(correctPlan({}, first, { m: { storageBytes: 290 } }, 300)).toBeUndefined();
    const corrections = correctPlan({}, first, { m: { storageBytes: 325 } }, 300);
    expect(corrections).toEqual({ m: { storageBytes: 75 } });
    const fixed = corrected(problem, corrections!.m);
    expect(fixed.fixed.storageBytes).toBe(175);
    // The bound that this plan missed is now out of reach on the cost model, not attempted again.
    const again = await solveExact({ models: [fixed], storageBoundBytes: 300 });
    expect(again.feasible).toBe(false);
    expect((await plan(fixed, 325)).perModel.m.storageBytes).toBe(325);
    // Within its prediction: nothing to correct.
    expect(correctPlan(corrections!, first, { m: { storageBytes: 250 } }, 300)).toBeUndefined();
  });

  it("charges a plan's options the measured / predicted loss ratio past the tolerance, and nothing within it", async () => {
    const solution = await plan(problem, 10_000);
    expect(correctPlan({}, solution, { m: { storageBytes: 700, loss: 0.005 } })).toBeUndefined();
    const pruned = await plan(problem, 400);
    expect(pruned.choices.m).toEqual({ a: 'prune', b: 'exact' });
    const next = correctPlan({}, pruned, { m: { storageBytes: 400, loss: 0.04 } });
    expect(next).toEqual({ m: { lossScale: { 'a prune': 4 } } });
  });
});

describe('chooseChecked', () => {
  it('deploys the least loss as checked among plans that keep the floor, storage met first', async () => {
    const pruned = await plan(problem, 400); // a prune: predicted loss 1 point
    const both = await plan(problem, 300); // a prune + b cut: 3 points
    const accuracy = { m: 0.9 };
    const checked = (p: FeasiblePlan, loss: number | undefined, storageBytes: number) => ({
      plan: p,
      checks: { m: { loss, storageBytes } },
    });
    const choose = (...args: Parameters<typeof chooseChecked>) => chooseChecked(...args).chosen;
    // As checked, the second plan lost less than the first.
    expect(choose([checked(pruned, 0.05, 400), checked(both, 0.03, 250)], accuracy)).toBe(1);
    // ...but only the first keeps an 86% floor as checked.
    expect(chooseChecked([checked(pruned, 0.03, 400), checked(both, 0.05, 250)], accuracy, 0.86)).toEqual({
      chosen: 0,
      belowFloor: [],
    });
    // None keeps it: none may be deployed, and the models the last plan lost it on are named.
    expect(chooseChecked([checked(pruned, 0.05, 400), checked(both, 0.06, 250)], accuracy, 0.86)).toEqual({
      chosen: undefined,
      belowFloor: ['m'],
    });
    // A plan whose built artifacts miss the storage bound goes only when no other keeps the floor.
    expect(choose([checked(pruned, 0.01, 400), checked(both, 0.03, 250)], accuracy, 0.8, 300)).toBe(1);
    expect(choose([checked(pruned, 0.01, 400)], accuracy, 0.8, 300)).toBe(0);
    // Not checked (no accuracy model): the predicted loss counts.
    expect(choose([checked(both, undefined, 250)], accuracy, 0.865)).toBe(0);
    expect(choose([checked(both, undefined, 250)], accuracy, 0.875)).toBe(undefined);
  });
});

describe('single-technique plans', () => {
  it("offer exact and the technique's options, every form of it", () => {
    const options = [
      'exact',
      'lowrank:r=4',
      'lowrank-data:r=4',
      'prune:keep=0.5',
      'int8:storage',
      'int8:compute',
    ];
    expect(options.filter((o) => ofTechnique(o, 'lowrank'))).toEqual([
      'exact',
      'lowrank:r=4',
      'lowrank-data:r=4',
    ]);
    expect(options.filter((o) => ofTechnique(o, 'prune'))).toEqual(['exact', 'prune:keep=0.5']);
    expect(options.filter((o) => ofTechnique(o, 'int8'))).toEqual(['exact', 'int8:storage', 'int8:compute']);
  });

  it('are solved on the full cost model, its other options left out', () => {
    const mixed: ModelProblem = {
      ...problem,
      layers: [
        { layer: 'a', options: [option('exact', 1, 400, 0), option('prune:keep=0.5', 0.4, 0, 1)] },
        { layer: 'b', options: [option('exact', 1, 300, 0), option('int8:storage', 1, 75, 0.1)] },
      ],
    };
    const pruned = restrictTo(mixed, 'prune');
    expect(pruned.layers.map((l) => l.options.map((o) => o.option))).toEqual([
      ['exact', 'prune:keep=0.5'],
      ['exact'],
    ]);
    expect(pruned.layers[0].options[1]).toBe(mixed.layers[0].options[1]);
  });

  it('are told apart from a plan already checked by their options, whatever the order', () => {
    const a = { choices: { m: { x: 'prune:keep=0.5', y: 'exact' }, n: { z: 'int8:compute' } } };
    expect(samePlan(a, { choices: { n: { z: 'int8:compute' }, m: { x: 'prune:keep=0.5' } } })).toBe(true);
    expect(samePlan(a, { choices: { m: { x: 'prune:keep=0.25' }, n: { z: 'int8:compute' } } })).toBe(false);
    expect(samePlan(a, { choices: { m: { x: 'prune:keep=0.5' }, n: {} } })).toBe(false);
  });
});
