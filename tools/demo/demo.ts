/**
 * `npm run demo`: what BlinkNet has so far, end to end on this machine. Builds the paper's networks,
 * lists their approximable layers, and measures the trained reference models' accuracy on their
 * real test splits through onnxruntime. The closed-loop fleet demo replaces this with the planner.
 */
import { formatBytes, formatCount } from '@blinknet/core';
import { applyPlan, optionLadder } from '@blinknet/approx';
import { countParameters, decodeModel, describeLayers, encodeModel } from '@blinknet/onnx';
import { CalibrationRunner, measureLatency, ModelSession, OrtMatrixEngine } from '@blinknet/runtime';
import {
  buildNetwork,
  evaluateAccuracy,
  type ReferenceModel,
  loadDataset,
  networkFile,
  PAPER_NETWORKS,
  readReferenceModel,
  referenceModel,
  referenceModels,
  toInputBatch,
} from '@blinknet/zoo';

const INPUT_SIDE = { 'cifar10-quick': 32, caffenet: 227, vgg16: 224 } as const;

async function main(): Promise<void> {
  console.log("BlinkNet demo: the paper's networks (seeded He-initialised weights, built on demand)\n");
  for (const name of PAPER_NETWORKS) {
    const started = performance.now();
    const model = buildNetwork(name);
    const layers = describeLayers(model);
    const gflops = layers.reduce((n, l) => n + l.flops, 0) / 1e9;
    const path = networkFile(name);
    const session = await ModelSession.create(path, { intraOpThreads: 2 });
    const side = INPUT_SIDE[name];
    const input = { data: new Float32Array(3 * side * side), dims: [1, 3, side, side] };
    await session.run({ data: input }); // warm-up
    const runStart = performance.now();
    await session.run({ data: input });
    const runMs = performance.now() - runStart;
    await session.dispose();
    console.log(
      `${name.padEnd(14)} ${formatCount(countParameters(model)).padStart(12)} parameters  ` +
        `${layers.length} approximable layers  ${gflops.toFixed(2)} GFLOPs  one inference ${runMs.toFixed(1)} ms ` +
        `(built+loaded in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    for (const l of layers) {
      console.log(
        `    ${l.name.padEnd(8)} ${l.opType.padEnd(5)} weight [${l.weightShape.join('x')}]` +
          `${l.group > 1 ? ` group ${l.group}` : ''}  ${formatBytes(l.weightBytes)}  ${(l.flops / 1e6).toFixed(1)} MFLOPs`,
      );
    }
  }

  console.log('\nReference models trained on real data, re-measured now on their test splits:\n');
  for (const ref of referenceModels()) {
    const bytes = readReferenceModel(ref);
    const dataset = loadDataset(ref.dataset, 'test');
    const result = await evaluateAccuracy(bytes, dataset, {
      layout: ref.input,
      session: { intraOpThreads: 2 },
    });
    console.log(
      `${ref.id.padEnd(20)} ${ref.dataset.padEnd(14)} ${formatCount(ref.parameters).padStart(9)} parameters  ` +
        `accuracy ${(result.accuracy * 100).toFixed(2)}% on ${formatCount(result.total)} test images ` +
        `(manifest ${(ref.testAccuracy * 100).toFixed(2)}%)  ${(result.wallMs / 1000).toFixed(1)} s`,
    );
  }
  await approximationExample(referenceModel('vgg-fmnist'));
}

/** One model under a hand-written plan: what approximation buys and costs, measured here. */
async function approximationExample(ref: ReferenceModel): Promise<void> {
  const model = decodeModel(readReferenceModel(ref));
  const layers = describeLayers(model).map((l) => l.name);
  const ladder = optionLadder(model);
  // Data-aware low rank on the convolutions, int8 compute on the classifier.
  const plan = Object.fromEntries(
    layers.map((name) => {
      const costs = ladder.get(name) ?? [];
      const lowrank = costs.filter((c) => c.option.startsWith('lowrank-data:')).at(-1);
      return [name, name.includes('Conv') && lowrank ? lowrank.option : 'int8:compute'];
    }),
  );
  const train = loadDataset(ref.dataset, 'train');
  const test = loadDataset(ref.dataset, 'test');
  const side = ref.input.size;
  const batch = (n: number) => ({
    [ref.input.name]: {
      data: toInputBatch(train, 0, n, ref.input),
      dims: [n, ref.input.channels, side, side],
    },
  });
  const engine = new OrtMatrixEngine(2);
  const approximated = encodeModel(
    await applyPlan(model, plan, { engine, calibration: new CalibrationRunner(batch(1024)) }),
  );
  await engine.dispose();
  console.log(`\nApproximating ${ref.id} with the plan:`);
  for (const [layer, option] of Object.entries(plan)) console.log(`    ${layer.padEnd(32)} ${option}`);
  for (const [label, bytes] of [
    ['exact', readReferenceModel(ref)],
    ['approximated', approximated],
  ] as const) {
    const accuracy = await evaluateAccuracy(bytes, test, {
      layout: ref.input,
      session: { intraOpThreads: 2 },
    });
    const session = await ModelSession.create(bytes, { intraOpThreads: 1 });
    const { stats } = await measureLatency(session, batch(1), { warmupRuns: 20, timedRuns: 200 });
    await session.dispose();
    console.log(
      `  ${label.padEnd(13)} ${formatBytes(bytes.length).padStart(9)}  accuracy ${(accuracy.accuracy * 100).toFixed(2)}%  ` +
        `latency p50 ${stats.medianMs.toFixed(3)} ms, p95 ${stats.p95Ms.toFixed(3)} ms (batch 1, 1 thread, 200 runs)`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
