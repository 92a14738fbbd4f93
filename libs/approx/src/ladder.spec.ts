import { decodeModel, encodeModel, ModelBuilder, UnsupportedOpError } from '@blinknet/onnx';
import { CalibrationRunner, ModelSession, OrtMatrixEngine } from '@blinknet/runtime';
import { loadDataset, readReferenceModel, referenceModels, toInputBatch } from '@blinknet/zoo';
import { UnknownLayerError } from './errors';
import { applyPlan, optionLadder } from './plan';

const engine = new OrtMatrixEngine(2);
afterAll(() => engine.dispose());

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
});
