/**
 * `npm run bench:options [-- --limit N] [-- --models a,b]`: for every reference model, every layer
 * and every option of its ladder, the approximated model's top-1 accuracy on the real test split,
 * with the option's weight bytes and FLOPs and the layer's output error. This table is the per-layer
 * sensitivity input of the planner's accuracy model.
 * Calibration (lowrank-data) uses the first 1024 images of the train split, never the test split.
 * Saves tools/bench/results/<date>/option-accuracy.json and prints a markdown table.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { applyPlan, optionLadder, relativeError } from '@blinknet/approx';
import { decodeModel, encodeModel, GraphView, type ModelProto, valueInfo } from '@blinknet/onnx';
import { CalibrationRunner, ModelSession, OrtMatrixEngine } from '@blinknet/runtime';
import {
  evaluateAccuracy,
  loadDataset,
  readReferenceModel,
  referenceModels,
  toInputBatch,
} from '@blinknet/zoo';
import { saveResults } from './machine';

const { values } = parseArgs({
  options: {
    limit: { type: 'string' },
    models: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run bench:options -- [--limit <test images>] [--models lenet5-mnist,...]');
  process.exit(0);
}
const limit = values.limit ? Number(values.limit) : undefined;
const CALIBRATION_IMAGES = 1024;
const ERROR_BATCH = 256;

async function layerOutput(
  model: ModelProto,
  tensor: string,
  input: Record<string, { data: Float32Array; dims: number[] }>,
) {
  const graph = model.graph!;
  const exposed = { ...model, graph: { ...graph, output: [...graph.output, valueInfo(tensor, 1)] } };
  const session = await ModelSession.create(encodeModel(exposed), { intraOpThreads: 2 });
  try {
    return (await session.run(input))[tensor].data;
  } finally {
    await session.dispose();
  }
}

async function main(): Promise<void> {
  const engine = new OrtMatrixEngine(0);
  const wanted = values.models?.split(',');
  const rows = [];
  for (const ref of referenceModels().filter((m) => !wanted || wanted.includes(m.id))) {
    const bytes = readReferenceModel(ref);
    const model = decodeModel(bytes, ref.path);
    const test = loadDataset(ref.dataset, 'test');
    const train = loadDataset(ref.dataset, 'train');
    const side = ref.input.size;
    const calibration = new CalibrationRunner({
      [ref.input.name]: {
        data: toInputBatch(train, 0, CALIBRATION_IMAGES, ref.input),
        dims: [CALIBRATION_IMAGES, ref.input.channels, side, side],
      },
    });
    const errorInput = {
      [ref.input.name]: {
        data: toInputBatch(test, 0, ERROR_BATCH, ref.input),
        dims: [ERROR_BATCH, ref.input.channels, side, side],
      },
    };
    const session = { intraOpThreads: 2 };
    const baseline = await evaluateAccuracy(bytes, test, { layout: ref.input, limit, session });
    console.log(
      `\n${ref.id}: exact accuracy ${(baseline.accuracy * 100).toFixed(2)}% on ${baseline.total} test images`,
    );
    const view = new GraphView(model);
    for (const [layer, costs] of optionLadder(model)) {
      const out = view.node(layer)!.output[0];
      const exactOut = await layerOutput(model, out, errorInput);
      for (const cost of costs) {
        const started = performance.now();
        const approx =
          cost.option === 'exact'
            ? model
            : await applyPlan(model, { [layer]: cost.option }, { engine, calibration });
        const result =
          cost.option === 'exact'
            ? baseline
            : await evaluateAccuracy(encodeModel(approx), test, { layout: ref.input, limit, session });
        const outputError =
          cost.option === 'exact' || cost.option.startsWith('prune')
            ? 0
            : relativeError(exactOut, await layerOutput(approx, out, errorInput));
        const row = {
          model: ref.id,
          layer,
          option: cost.option,
          weightBytes: cost.weightBytes,
          flops: cost.flops,
          // Pruned layers have fewer output channels: their output is not comparable element-wise.
          outputRelativeError: cost.option.startsWith('prune') ? null : outputError,
          accuracy: result.accuracy,
          accuracyLoss: baseline.accuracy - result.accuracy,
          testImages: result.total,
          seconds: (performance.now() - started) / 1000,
        };
        rows.push(row);
        console.log(
          `  ${layer} ${cost.option.padEnd(20)} ${String(cost.weightBytes).padStart(9)} B ${String(cost.flops).padStart(11)} FLOPs ` +
            `err ${row.outputRelativeError === null ? '   -  ' : row.outputRelativeError.toFixed(4)} acc ${(row.accuracy * 100).toFixed(2)}%`,
        );
      }
    }
  }
  const path = saveResults('option-accuracy', {
    calibrationImages: CALIBRATION_IMAGES,
    errorBatch: ERROR_BATCH,
    limit: limit ?? 'full test split',
    rows,
  });
  const table = [
    '| model | layer | option | weight bytes | FLOPs | output rel. error | accuracy |',
    '|---|---|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.layer} | ${r.option} | ${r.weightBytes} | ${r.flops} | ` +
        `${r.outputRelativeError === null ? '-' : r.outputRelativeError.toFixed(4)} | ${(r.accuracy * 100).toFixed(2)}% |`,
    ),
  ].join('\n');
  writeFileSync(path.replace(/\.json$/, '.md'), `${table}\n`);
  console.log(`\nsaved ${path} and the markdown table beside it`);
  await engine.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
