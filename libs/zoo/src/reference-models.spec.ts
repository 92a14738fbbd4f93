import { countParameters, decodeModel, describeLayers, encodeModel, inferShapes } from '@blinknet/onnx';
import { ModelSession } from '@blinknet/runtime';
import { loadDataset, toInputBatch } from './datasets';
import { evaluateAccuracy } from './evaluate';
import { readReferenceModel, referenceModels } from './reference-models';

const models = referenceModels();

// 0.2 percentage points of slack for thread-count dependent float summation order.
const ACCURACY_SLACK = 0.002;

describe('reference models', () => {
  it('the manifest lists the three trained models', () => {
    expect(models.map((m) => m.id).sort()).toEqual(['cifar10quick-fmnist', 'lenet5-mnist', 'vgg-fmnist']);
  });

  describe.each(models.map((m) => [m.id, m] as const))('%s', (_id, ref) => {
    const bytes = readReferenceModel(ref); // also checks the sha256

    it('matches its manifest: parameter count, input layout, shapes inferable', () => {
      const model = decodeModel(bytes, ref.path);
      expect(countParameters(model)).toBe(ref.parameters);
      expect(ref.input.size).toBe(28 + 2 * ref.input.pad);
      const shapes = inferShapes(model, { batchSize: 4 });
      expect(shapes.get(ref.output)?.dims).toEqual([4, ref.classes]);
      expect(describeLayers(model).length).toBeGreaterThanOrEqual(5);
    });

    it('re-measures at least its manifest accuracy on the real test split', async () => {
      const dataset = loadDataset(ref.dataset, 'test');
      const result = await evaluateAccuracy(bytes, dataset, {
        layout: ref.input,
        session: { intraOpThreads: 2 },
      });
      expect(result.total).toBe(ref.testSamples);
      expect(result.accuracy).toBeGreaterThanOrEqual(ref.testAccuracy - ACCURACY_SLACK);
    }, 120_000);

    it('survives a read/write round trip with bit-identical onnxruntime outputs', async () => {
      const rewritten = encodeModel(decodeModel(bytes, ref.path));
      const dataset = loadDataset(ref.dataset, 'test');
      const batch = 64;
      const side = ref.input.size;
      const input = {
        data: toInputBatch(dataset, 0, batch, ref.input),
        dims: [batch, ref.input.channels, side, side],
      };
      const run = async (model: Uint8Array) => {
        const session = await ModelSession.create(model, { intraOpThreads: 1 });
        try {
          return (await session.run({ [ref.input.name]: input }))[ref.output].data;
        } finally {
          await session.dispose();
        }
      };
      const [original, roundTripped] = await Promise.all([run(bytes), run(rewritten)]);
      expect(Buffer.from(roundTripped.buffer).equals(Buffer.from(original.buffer))).toBe(true);
      expect(original.some((v) => v !== 0)).toBe(true);
    }, 60_000);
  });
});
