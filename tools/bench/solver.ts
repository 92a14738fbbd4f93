/**
 * `npm run bench:solver [-- --instances N]`: how fast libs/planner-core finds the optimal plan. For 1,
 * 3 and 10 models of ~20 layers x ~10 options (seeded random options that behave like approximations:
 * 0.05-5 ms per exact layer, 0-5 points of loss; every kind of bound at 50-90% of the unapproximated
 * figure), the median solve time of solveExact (the specialised search, falling back to HiGHS past its
 * budget) beside solveMilp (HiGHS alone), how often each method served solveExact, and whether both
 * found the same optimum. Saves tools/bench/results/<date>/solver.json.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  type ExactStats,
  type PlanProblem,
  realisticProblem,
  seededRng,
  type Solution,
  solveExact,
  solveMilp,
} from '@blinknet/planner-core';
import { median, saveResults } from './machine';

const { values } = parseArgs({
  options: { instances: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('usage: npm run bench:solver -- [--instances N (default 40 for 1 and 3 models, 10 for 10)]');
  process.exit(0);
}

const SIZES = [
  { models: 1, instances: 40 },
  { models: 3, instances: 40 },
  { models: 10, instances: 10 },
].map((s) => ({ ...s, instances: values.instances ? Number(values.instances) : s.instances }));

const problemOf = (models: number, seed: number): PlanProblem =>
  realisticProblem(
    seededRng(1000 * models + seed),
    { models, layers: [18, 22], options: [8, 12] },
    { perModelLatency: true, totalLatency: true, memory: true, storage: true, fraction: [0.5, 0.9] },
  );

const percentile = (values: readonly number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))];
const objective = (s: Solution) => (s.feasible ? s.objective : undefined);

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await run();
  return [result, performance.now() - start];
}

async function main(): Promise<void> {
  console.log('bench:solver — warming up (HiGHS WebAssembly, JIT) ...');
  for (let seed = 0; seed < 5; seed++) {
    await solveMilp(problemOf(1, -1 - seed));
    await solveExact(problemOf(3, -1 - seed));
  }
  const rows = [];
  for (const { models, instances } of SIZES) {
    const exactMs: number[] = [];
    const searchMs: number[] = []; // instances the specialised search decided itself
    const milpMs: number[] = [];
    const states: number[] = [];
    const methods = { exact: 0, milp: 0 };
    let feasible = 0;
    let disagreements = 0;
    let layers = 0;
    let options = 0;
    for (let seed = 0; seed < instances; seed++) {
      const problem = problemOf(models, seed);
      layers += problem.models.reduce((n, m) => n + m.layers.length, 0);
      options += problem.models.reduce((n, m) => n + m.layers.reduce((o, l) => o + l.options.length, 0), 0);
      const stats = {} as ExactStats;
      const [exact, te] = await timed(() => solveExact(problem, { stats }));
      const [milp, tm] = await timed(() => solveMilp(problem));
      exactMs.push(te);
      milpMs.push(tm);
      states.push(stats.states);
      if (exact.method === 'exact') searchMs.push(te);
      methods[exact.method as 'exact' | 'milp']++;
      if (milp.feasible) feasible++;
      const a = objective(exact);
      const b = objective(milp);
      const same =
        a === undefined || b === undefined
          ? a === b
          : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
      if (!same) disagreements++;
      process.stdout.write(exact.method === 'exact' ? '.' : 'm');
    }
    process.stdout.write('\n');
    rows.push({
      models,
      instances,
      meanLayers: layers / instances,
      meanOptionsPerLayer: options / layers,
      feasible,
      exact: {
        medianMs: median(exactMs),
        p90Ms: percentile(exactMs, 0.9),
        maxMs: Math.max(...exactMs),
        methods,
        searchOnlyMedianMs: searchMs.length > 0 ? median(searchMs) : null,
        medianStates: median(states),
      },
      milp: { medianMs: median(milpMs), p90Ms: percentile(milpMs, 0.9), maxMs: Math.max(...milpMs) },
      medianSpeedup: median(exactMs.map((t, i) => milpMs[i] / t)),
      disagreements,
    });
  }

  const f = (ms: number) => (ms < 100 ? ms.toFixed(1) : ms.toFixed(0));
  console.log(
    '\nmodels  layers x options  feasible  solveExact median / p90 ms  solveMilp median / p90 ms  speedup  method exact/milp  agree',
  );
  for (const r of rows) {
    console.log(
      [
        String(r.models).padStart(6),
        `${r.meanLayers.toFixed(0)} x ${r.meanOptionsPerLayer.toFixed(1)}`.padStart(16),
        `${r.feasible}/${r.instances}`.padStart(8),
        `${f(r.exact.medianMs)} / ${f(r.exact.p90Ms)}`.padStart(27),
        `${f(r.milp.medianMs)} / ${f(r.milp.p90Ms)}`.padStart(25),
        `x${r.medianSpeedup.toFixed(1)}`.padStart(7),
        `${r.exact.methods.exact}/${r.exact.methods.milp}`.padStart(17),
        (r.disagreements === 0 ? 'yes' : `NO (${r.disagreements})`).padStart(6),
      ].join('  '),
    );
  }
  const path = saveResults('solver', {
    loadAverage1m: loadavg()[0],
    instances:
      'realisticProblem, seeded; layers 18-22, options 8-12; all bounds at 50-90% of the unapproximated figures',
    sizes: rows,
  });
  console.log(`saved ${path}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
