import {
  attribute,
  DataType,
  decodeModel,
  encodeModel,
  GraphView,
  ModelBuilder,
  type ModelProto,
  UnsupportedOpError,
  valueInfo,
} from '@blinknet/onnx';
import { CalibrationRunner, type FloatTensor, ModelSession, OrtMatrixEngine } from '@blinknet/runtime';
import { loadDataset, readReferenceModel, referenceModels, toInputBatch } from '@blinknet/zoo';
import { OptionNotOfferedError, UnknownLayerError } from './errors';
import { relativeError } from './linalg';
import { applyPlan, optionLadder } from './plan';

const engine = new OrtMatrixEngine(2);
afterAll(() => engine.dispose());

async function layerOutput(
  model: ModelProto,
  tensor: string,
  input: Record<string, FloatTensor>,
): Promise<Float32Array> {
  const exposed = {
    ...model,
    graph: { ...model.graph!, output: [...model.graph!.output, valueInfo(tensor, DataType.FLOAT)] },
  };
  const session = await ModelSession.create(encodeModel(exposed), { intraOpThreads: 1 });
  try {
    return (await session.run(input))[tensor].data;
  } finally {
    await session.dispose();
  }
}

describe.each(referenceModels().map((m) => [m.id, m] as const))('every ladder option of %s', (_id, ref) => {
  it('builds a model that onnxruntime loads and runs', async () => {
    const model = decodeModel(readReferenceModel(ref));
    const side = ref.input.size;
    const train = loadDataset(ref.dataset, 'train');
    const batch = (n: number) => ({
      [ref.input.name]: {
        data: toInputBatch(train, 0, n, ref.input),
        dims: [n, ref.input.channels, side, side],
      },
    });
    const calibration = new CalibrationRunner(batch(256));
    const input = batch(4);
    let built = 0;
    for (const [layer, costs] of optionLadder(model)) {
      expect(costs[0].option).toBe('exact');
      for (const cost of costs.slice(1)) {
        const approx = await applyPlan(model, { [layer]: cost.option }, { engine, calibration });
        const session = await ModelSession.create(
          encodeModel(approx),
          { intraOpThreads: 1 },
          `${layer} ${cost.option}`,
        );
        const outputs = await session.run(input);
        await session.dispose();
        expect(outputs[ref.output].dims).toEqual([4, ref.classes]);
        expect(outputs[ref.output].data.every(Number.isFinite)).toBe(true);
        if (cost.option.startsWith('int8')) {
          // int8 weights (and, in the compute form, the calibrated uint8 activation) keep every layer
          // of the trained models within 1% of its exact output.
          const tensor = new GraphView(model).node(layer)!.output[0];
          const [exact, quantized] = await Promise.all([
            layerOutput(model, tensor, input),
            layerOutput(approx, tensor, input),
          ]);
          expect(relativeError(exact, quantized)).toBeLessThan(0.01);
        }
        built++;
      }
    }
    expect(built).toBeGreaterThan(10);
  }, 600_000);
});

describe('inputs that cannot be approximated', () => {
  it('a MatMul whose weight is not constant is not a layer', async () => {
    const b = new ModelBuilder({ name: 'dynamic' });
    const x = b.input('x', [1, 4, 4]);
    b.output(b.relu(b.node('MatMul', 'self', [x, x]), 'relu'));
    await expect(applyPlan(b.build(), { self: 'lowrank:r=1' }, { engine })).rejects.toThrow(
      UnknownLayerError,
    );
  });

  it('an unknown op anywhere is a typed error naming the node and op', async () => {
    const b = new ModelBuilder({ name: 'custom' });
    const x = b.input('x', [1, 2, 4, 4]);
    const y = b.conv(x, { name: 'conv', outChannels: 3, kernel: 1 });
    const model = b.build();
    model.graph!.node.push({
      name: 'fancy',
      opType: 'FancyNorm',
      domain: '',
      docString: '',
      input: [y],
      output: ['z'],
      attribute: [],
    });
    model.graph!.output = [{ ...model.graph!.input[0], name: 'z' }];
    await expect(applyPlan(model, { conv: 'prune:keep=0.5' }, { engine })).rejects.toThrow(
      UnsupportedOpError,
    );
    await expect(applyPlan(model, { conv: 'prune:keep=0.5' }, { engine })).rejects.toThrow(
      /'fancy'.*'FancyNorm'/,
    );
  });

  it('auto_pad SAME_UPPER with strides: plain low rank keeps the shapes, the data-aware fit refuses it', async () => {
    const b = new ModelBuilder({ name: 'same' });
    const x = b.input('x', [1, 8, 9, 9]);
    const w = b.constant(
      'w',
      [16, 8, 3, 3],
      new Float32Array(16 * 8 * 9).map((_, i) => Math.sin(i)),
    );
    const y = b.node(
      'Conv',
      'conv',
      [x, w],
      [attribute.string('auto_pad', 'SAME_UPPER'), attribute.ints('strides', [2, 2])],
    );
    b.output(b.relu(y, 'relu'));
    const model = b.build();
    const input = { x: { data: new Float32Array(8 * 81).map((_, i) => Math.cos(i)), dims: [1, 8, 9, 9] } };
    const full = await applyPlan(model, { conv: 'lowrank:r=16' }, { engine, allowAnyRank: true });
    const [exact, factored] = await Promise.all([
      layerOutput(model, 'conv_out', input),
      layerOutput(full, 'conv_out', input),
    ]);
    expect(exact).toHaveLength(16 * 5 * 5);
    expect(relativeError(exact, factored)).toBeLessThan(1e-4);
    const calibration = new CalibrationRunner(input);
    await expect(applyPlan(model, { conv: 'lowrank-data:r=4' }, { engine, calibration })).rejects.toThrow(
      OptionNotOfferedError,
    );
    await expect(applyPlan(model, { conv: 'lowrank-data:r=4' }, { engine, calibration })).rejects.toThrow(
      /auto_pad/,
    );
  });
});
