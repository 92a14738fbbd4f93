/**
 * `npm run bench:cost-model [-- --plans N] [-- --threads N]`: how well the planner's cost model
 * predicts a whole approximated model's latency on this machine. For each trained reference model:
 * profile its ladder as an agent does, then build N random plans (each layer exact or a random
 * ladder option), measure each plan's p95 and median over 200 runs, and compare with the
 * prediction of libs/planner-core's cost model. Prints and saves the error per model.
 * Saves tools/bench/results/<date>/cost-model.json.
 */
import { parseArgs } from 'node:util';
import { modelInputs, profileModel } from '@blinknet/agent';
import { applyPlan, optionLadder } from '@blinknet/approx';
import { activationPeakBytes, decodeModel, encodeModel, weightBytes } from '@blinknet/onnx';
import { classCosts, modelProblem, type ModelVersionCosts } from '@blinknet/planner-core';
import { measureLatency, ModelSession, OrtMatrixEngine } from '@blinknet/runtime';
import { readReferenceModel, referenceModels } from '@blinknet/zoo';
import { median, saveResults } from './machine';
import { classMeasurements } from './measurements';

const { values } = parseArgs({
  options: {
    plans: { type: 'string' },
    threads: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run bench:cost-model -- [--plans 12] [--threads 1]');
  process.exit(0);
}
const PLANS = Number(values.plans ?? 12);
const THREADS = Number(values.threads ?? 1);

/** Deterministic choices: xorshift32. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

interface Row {
  readonly model: string;
  readonly plan: number;
  readonly choices: Record<string, string>;
  readonly [figure: `${string}Ms`]: number;
}

async function main(): Promise<void> {
  const engine = new OrtMatrixEngine();
  const rows: Row[] = [];
  for (const ref of referenceModels()) {
    const bytes = readReferenceModel(ref);
    const model = decodeModel(bytes, ref.id);
    const ladder = optionLadder(model);
    const options = Object.fromEntries(
      [...ladder].map(([layer, costs]) => [layer, costs.map((c) => c.option)]),
    );
    const profile = await profileModel({ model, options }, { session: { intraOpThreads: THREADS } });
    const measurements = classMeasurements(profile);
    const costs = [...ladder.values()].flat();
    const exactBytes = costs.filter((c) => c.option === 'exact').reduce((n, c) => n + c.weightBytes, 0);
    const version: ModelVersionCosts = {
      model: ref.id,
      bytes: bytes.length,
      activationPeakBytes: activationPeakBytes(model),
      otherWeightBytes: weightBytes(model) - exactBytes,
      accuracy: 1,
      options: costs.map((c) => ({ ...c, accuracy: 1, shrinks: c.shrinksInputsOf })),
    };
    const problem = (percentile: number) =>
      modelProblem(version, classCosts(version, measurements, percentile));
    const byPercentile = { 50: problem(50), 95: problem(95) };
    const random = rng(ref.seed);
    const inputs = modelInputs(model, 1);
    for (let p = 0; p < PLANS; p++) {
      const choices: Record<string, string> = {};
      for (const layer of byPercentile[95].layers) {
        const pick = random() < 0.3 ? 0 : Math.floor(random() * layer.options.length);
        choices[layer.layer] = layer.options[pick].option;
      }
      const approx = await applyPlan(model, choices, { engine, placeholderFactors: true });
      const session = await ModelSession.create(encodeModel(approx), { intraOpThreads: THREADS });
      let measured;
      try {
        measured = await measureLatency(session, inputs, { timedRuns: 200, minWarmupMs: 500 });
      } finally {
        await session.dispose();
      }
      const predict = (percentile: 50 | 95) =>
        byPercentile[percentile].layers.reduce(
          (n, l) => n + l.options.find((o) => o.option === choices[l.layer])!.latencyMs,
          byPercentile[percentile].fixed.latencyMs,
        );
      // Differential: the exact model's end-to-end figure plus each layer's change.
      const iso = classCosts(version, measurements, 95).layerLatencyMs;
      const delta = Object.entries(choices).reduce(
        (n, [layer, option]) => n + iso.get(layer)!.get(option)! - iso.get(layer)!.get('exact')!,
        0,
      );
      const differential = {
        median: profile.endToEnd.stats.medianMs + delta,
        p95: profile.endToEnd.stats.p95Ms + delta,
      };
      const row = {
        differentialMedianMs: differential.median,
        differentialP95Ms: differential.p95,
        model: ref.id,
        plan: p,
        choices,
        measuredMedianMs: measured.stats.medianMs,
        measuredP95Ms: measured.stats.p95Ms,
        predictedMedianMs: predict(50),
        predictedP95Ms: predict(95),
      };
      rows.push(row);
      console.log(
        `${ref.id} plan ${p}: p95 measured ${row.measuredP95Ms.toFixed(3)} predicted ${row.predictedP95Ms.toFixed(3)} (differential ${differential.p95.toFixed(3)}) ms; ` +
          `median measured ${row.measuredMedianMs.toFixed(3)} predicted ${row.predictedMedianMs.toFixed(3)} ms`,
      );
    }
  }
  await engine.dispose();
  const summary = Object.fromEntries(
    [...new Set(rows.map((r) => r.model))].map((model) => {
      const own = rows.filter((r) => r.model === model);
      const error = (k: 'P95' | 'Median', how = 'predicted') =>
        median(own.map((r) => Math.abs(r[`${how}${k}Ms`] / r[`measured${k}Ms`] - 1)));
      const bias = median(own.map((r) => r.predictedP95Ms / r.measuredP95Ms));
      return [
        model,
        {
          plans: own.length,
          medianAbsErrorP95: error('P95'),
          medianAbsErrorMedian: error('Median'),
          differentialP95: error('P95', 'differential'),
          differentialMedian: error('Median', 'differential'),
          medianRatioP95: bias,
        },
      ];
    }),
  );
  console.table(summary);
  const path = saveResults('cost-model', { threads: THREADS, plans: PLANS, summary, rows });
  console.log(`saved ${path}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
