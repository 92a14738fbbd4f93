import { readModel, encodeModel } from '@blinknet/onnx';
import { OrtMatrixEngine, ModelSession } from '@blinknet/runtime';
import { applyPlan, optionLadder, relativeError } from '@blinknet/approx';
import { loadDataset, toInputBatch, referenceModel, buildNetwork } from '@blinknet/zoo';
async function main() {
  const engine = new OrtMatrixEngine(2);
  for (const id of ['lenet5-mnist', 'cifar-builder']) {
  const ref = id === 'cifar-builder' ? undefined : referenceModel(id);
  const model = ref ? readModel(ref.path) : buildNetwork('cifar10-quick');
  const ds = loadDataset(ref?.dataset ?? 'fashion-mnist', 'test');
  const layout = ref?.input ?? { channels: 3, pad: 2 };
  const side = 28 + 2 * layout.pad;
  const input = { data: toInputBatch(ds, 0, 100, layout), dims: [100, layout.channels, side, side] };
  const run = async (m: Uint8Array) => { const s = await ModelSession.create(m); const o = await s.run({ [s.inputNames[0]]: input }); await s.dispose(); return Object.values(o)[0].data; };
  const base = await run(encodeModel(model));
  for (const [layer, costs] of optionLadder(model)) {
    for (const c of costs) {
      try {
        const out = await applyPlan(model, { [layer]: c.option }, { engine });
        const y = await run(encodeModel(out));
        console.log(layer, c.option, c.weightBytes, c.flops, relativeError(base, y).toExponential(2));
      } catch (e) { console.log(layer, c.option, 'ERR', (e as Error).message); }
    }
  }
  }
  await engine.dispose();
}
main();
