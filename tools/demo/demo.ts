/**
 * `npm run demo`: what BlinkNet has so far, end to end on this machine. Builds the paper's networks,
 * lists their approximable layers, and measures the trained reference models' accuracy on their
 * real test splits through onnxruntime. The closed-loop fleet demo replaces this with the planner.
 */
import { formatBytes, formatCount } from '@blinknet/core';
import { countParameters, describeLayers } from '@blinknet/onnx';
import { ModelSession } from '@blinknet/runtime';
import {
  buildNetwork,
  evaluateAccuracy,
  loadDataset,
  networkFile,
  PAPER_NETWORKS,
  readReferenceModel,
  referenceModels,
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
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
