/**
 * `npm run bench:approx`: speed and accuracy of libs/approx's numerics on this machine.
 * - truncated SVD of VGG16's fc6 weight (4096 x 25088) at rank 256: median of 5 timed runs;
 * - accuracy of the randomized SVD against an exact SVD (ml-matrix) on matrices small enough for it;
 * - time to list and to build every option of every layer for CIFAR-10-quick and VGG16.
 * Prints a summary and saves everything to tools/bench/results/<date>/approx.json.
 */
import { SVD, Matrix as DenseMatrix } from 'ml-matrix';
import { matrix, type Matrix } from '@blinknet/core';
import { applyPlan, optionLadder, randomizedSvd, reconstruct, relativeError } from '@blinknet/approx';
import { decodeModel, describeLayers, GraphView, type ModelProto } from '@blinknet/onnx';
import { CalibrationRunner, OrtMatrixEngine } from '@blinknet/runtime';
import { buildNetwork, loadDataset, readReferenceModel, referenceModel, toInputBatch } from '@blinknet/zoo';
import { median, saveResults } from './machine';

const engine = new OrtMatrixEngine(0);

function weightOf(model: ModelProto, layer: string): Matrix {
  const info = describeLayers(model).find((l) => l.name === layer)!;
  const [rows, ...rest] = info.weightShape;
  const data = new GraphView(model).constant(info.weightName)!.data as Float32Array;
  return matrix(
    rows,
    rest.reduce((a, b) => a * b, 1),
    data,
  );
}

async function timeSvd(a: Matrix, rank: number, runs: number) {
  await randomizedSvd(engine, a, rank); // warm-up: sessions, page faults
  const times: number[] = [];
  let error = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const svd = await randomizedSvd(engine, a, rank);
    times.push(performance.now() - start);
    if (i === 0) error = relativeError(a.data, (await reconstruct(engine, svd)).data);
  }
  return {
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    runs,
    relativeError: error,
  };
}

/** Randomized vs exact truncated SVD: error ratio to the optimal (Eckart-Young) error. */
async function accuracyAgainstExact(name: string, a: Matrix, ranks: readonly number[]) {
  const dense = new DenseMatrix(
    Array.from({ length: a.rows }, (_, i) => Array.from(a.data.subarray(i * a.cols, (i + 1) * a.cols))),
  );
  const exact = new SVD(dense, { autoTranspose: true });
  const total = exact.diagonal.reduce((s, v) => s + v * v, 0);
  return ranks
    .map((rank) => ({
      name,
      rank,
      optimal: Math.sqrt(exact.diagonal.slice(rank).reduce((s, v) => s + v * v, 0) / total),
    }))
    .map(async (row) => {
      const svd = await randomizedSvd(engine, a, row.rank);
      const error = relativeError(a.data, (await reconstruct(engine, svd)).data);
      return { ...row, randomized: error, ratio: error / row.optimal };
    });
}

async function ladderTimes(name: string, model: ModelProto, context = {}) {
  let start = performance.now();
  const ladder = optionLadder(model);
  const listMs = performance.now() - start;
  const byKind = new Map<string, { count: number; ms: number }>();
  start = performance.now();
  let built = 0;
  for (const [layer, costs] of ladder) {
    for (const cost of costs) {
      const kind = cost.option.split(':')[0];
      if (kind === 'exact' || (kind === 'lowrank-data' && !('calibration' in context))) continue;
      const t = performance.now();
      await applyPlan(model, { [layer]: cost.option }, { engine, ...context });
      const entry = byKind.get(kind) ?? { count: 0, ms: 0 };
      byKind.set(kind, { count: entry.count + 1, ms: entry.ms + performance.now() - t });
      built++;
    }
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  return {
    name,
    layers: ladder.size,
    options: [...ladder.values()].reduce((n, c) => n + c.length, 0),
    listMs,
    buildAllMs: performance.now() - start,
    built,
    byKind: Object.fromEntries(byKind),
  };
}

async function main(): Promise<void> {
  console.log('bench:approx — building VGG16 (seeded He weights) ...');
  const vgg16 = buildNetwork('vgg16');
  const fc6 = weightOf(vgg16, 'fc6');
  console.log(`SVD of VGG16 fc6 (${fc6.rows} x ${fc6.cols}) at rank 256, 5 timed runs ...`);
  const fc6Svd = await timeSvd(fc6, 256, 5);
  console.log(
    `  median ${(fc6Svd.medianMs / 1000).toFixed(2)} s (min ${(fc6Svd.minMs / 1000).toFixed(2)}, max ${(fc6Svd.maxMs / 1000).toFixed(2)})`,
  );

  console.log('Randomized vs exact SVD ...');
  const cifar = decodeModel(readReferenceModel(referenceModel('cifar10quick-fmnist')));
  const accuracy = (
    await Promise.all([
      ...(await accuracyAgainstExact(
        'cifar10quick-fmnist ip1 (trained)',
        weightOf(cifar, describeLayers(cifar)[3].name),
        [8, 16, 32],
      )),
      ...(await accuracyAgainstExact(
        'cifar10quick-fmnist conv3 (trained)',
        weightOf(cifar, describeLayers(cifar)[2].name),
        [4, 16, 32],
      )),
      ...(await accuracyAgainstExact(
        'vgg16 conv5_1 slice 512 x 1152 (He init)',
        matrix(512, 1152, weightOf(vgg16, 'conv5_1').data.subarray(0, 512 * 1152)),
        [64, 128],
      )),
    ])
  ).flat();
  for (const row of accuracy) {
    console.log(
      `  ${row.name} r=${row.rank}: error ${row.randomized.toFixed(5)} vs optimal ${row.optimal.toFixed(5)} (x${row.ratio.toFixed(4)})`,
    );
  }

  console.log('Option ladders: list, then build every option ...');
  const fmnist = loadDataset('fashion-mnist', 'train');
  const calibration = new CalibrationRunner({
    input: { data: toInputBatch(fmnist, 0, 1024, { channels: 3, pad: 2 }), dims: [1024, 3, 32, 32] },
  });
  const ladders = [
    await ladderTimes('cifar10quick-fmnist (trained, with lowrank-data)', cifar, { calibration }),
    await ladderTimes('cifar10-quick (builder)', buildNetwork('cifar10-quick')),
    await ladderTimes('vgg16 (builder; no lowrank-data: no 224x224 data here)', vgg16),
  ];
  for (const l of ladders) {
    console.log(
      `  ${l.name}: ${l.layers} layers, ${l.options} options; listed in ${l.listMs.toFixed(0)} ms, built ${l.built} in ${(l.buildAllMs / 1000).toFixed(1)} s`,
    );
  }
  const path = saveResults('approx', {
    fc6Svd: { rows: fc6.rows, cols: fc6.cols, rank: 256, ...fc6Svd },
    svdAccuracy: accuracy,
    ladders,
  });
  console.log(`saved ${path}`);
  await engine.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
