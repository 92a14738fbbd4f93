import {
  type ClassMeasurement,
  classCosts,
  MIN_APPROXIMATION_LOSS,
  type ModelVersionCosts,
  modelProblem,
} from './cost-model';
import { NotProfiledError } from './errors';

const version: ModelVersionCosts = {
  model: 'net',
  bytes: 10_500,
  activationPeakBytes: 2_000,
  otherWeightBytes: 100,
  accuracy: 0.9,
  options: [
    { layer: 'a', option: 'exact', weightBytes: 4_000, accuracy: 0.9 },
    { layer: 'a', option: 'prune:keep=0.5', weightBytes: 2_000, accuracy: 0.85, shrinks: ['b'] },
    { layer: 'a', option: 'int8:storage', weightBytes: 1_000, accuracy: 0.9 },
    { layer: 'a', option: 'lowrank:r=2', weightBytes: 800, accuracy: 0.8 },
    { layer: 'b', option: 'exact', weightBytes: 6_000, accuracy: 0.9 },
    { layer: 'b', option: 'int8:compute', weightBytes: 1_500, accuracy: 0.91 },
  ],
};

/**
 * Three devices; d3 is an outlier 10x slower than the others. An empty run takes 0.1 ms (x the
 * device's scale), in every isolated layer's figure once and in the whole model's once.
 */
function measurements(): ClassMeasurement[] {
  const out: ClassMeasurement[] = [];
  const layerMs: Record<string, number> = {
    'a/exact': 1,
    'a/prune:keep=0.5': 0.5,
    'a/int8:storage': 1.1,
    'b/exact': 2,
    'b/int8:compute': 1.5,
  };
  for (const [device, scale] of [
    ['d1', 1],
    ['d2', 1.1],
    ['d3', 10],
  ] as const) {
    for (const [key, ms] of Object.entries(layerMs)) {
      const [layer, option] = key.split('/');
      out.push({ kind: 'layer-latency', deviceId: device, layer, option, medianMs: ms * scale, at: 2 });
    }
    out.push({
      kind: 'model-latency',
      deviceId: device,
      medianMs: 3 * scale,
      p95Ms: 3.6 * scale,
      p99Ms: 4.5 * scale,
      runOverheadMs: 0.1 * scale,
      at: 2,
    });
    out.push({
      kind: 'model-memory',
      deviceId: device,
      residentBytes: 30_000 * scale,
      weightBytes: 10_100,
      at: 2,
    });
  }
  // An older, superseded figure of d1 that would move the median if it counted.
  out.push({ kind: 'layer-latency', deviceId: 'd1', layer: 'a', option: 'exact', medianMs: 100, at: 1 });
  return out;
}

describe('classCosts', () => {
  it('takes each device latest figure and the median across devices, robust to an outlier device', () => {
    const costs = classCosts(version, measurements(), 95);
    expect(costs.devices).toBe(3);
    // Net of the run overhead: d2's 1.1 - 0.11.
    expect(costs.layerLatencyMs.get('a')!.get('exact')).toBeCloseTo(0.99);
    expect(costs.layerLatencyMs.get('b')!.get('int8:compute')).toBeCloseTo(1.54);
    // d2's exact layers net 2.8 x 1.1; its whole model 3.6 x 1.1 at p95, 3 x 1.1 at the median.
    expect(costs.latencyScale).toBe(1);
    expect(costs.fixedLatencyMs).toBeCloseTo(0.8 * 1.1);
    expect(classCosts(version, measurements(), 50).fixedLatencyMs).toBeCloseTo(0.2 * 1.1);
    // Without a run overhead figure (older agents) the layers count as timed.
    const plain = measurements().map((m) =>
      m.kind === 'model-latency' ? { ...m, runOverheadMs: undefined } : m,
    );
    expect(classCosts(version, plain, 50).fixedLatencyMs).toBeCloseTo(0);
    expect(classCosts(version, plain, 50).layerLatencyMs.get('a')!.get('exact')).toBeCloseTo(1.1);
  });

  it('scales the layers down, with no fixed latency, where they add up to more than the whole model', () => {
    const faster = measurements().map((m) => (m.kind === 'model-latency' ? { ...m, p95Ms: m.p95Ms / 2 } : m));
    const costs = classCosts(version, faster, 95);
    expect(costs.latencyScale).toBeCloseTo(1.8 / 2.8);
    expect(costs.fixedLatencyMs).toBe(0);
    // Median device d2: 33,000 resident - 10,100 weights - 2,000 activations.
    expect(costs.sessionOverheadBytes).toBe(20_900);
  });

  it('names what is missing before a class can be planned for', () => {
    const all = measurements();
    const without = (drop: (m: ClassMeasurement) => boolean) => () =>
      classCosts(
        version,
        all.filter((m) => !drop(m)),
        95,
      );
    expect(without((m) => m.kind === 'layer-latency' && m.layer === 'b' && m.option === 'exact')).toThrow(
      new NotProfiledError('net', 'latency for layer b'),
    );
    expect(without((m) => m.kind === 'model-latency')).toThrow(/no end-to-end latency/);
    expect(without((m) => m.kind === 'model-memory')).toThrow(/no memory/);
    expect(() => classCosts(version, all, 90)).toThrow(/percentile: must be 50, 95 or 99/);
  });
});

describe('modelProblem', () => {
  it('offers the measured options with scaled latency, resident and stored bytes and loss in points', () => {
    const costs = classCosts(version, measurements(), 95);
    const problem = modelProblem(version, costs, { latencyBoundMs: 3 });
    expect(problem.latencyBoundMs).toBe(3);
    const [a, b] = problem.layers;
    expect(a.layer).toBe('a');
    // lowrank:r=2 was never measured on this class: not offered.
    expect(a.options.map((o) => o.option)).toEqual(['exact', 'prune:keep=0.5', 'int8:storage']);
    const [exact, prune, int8] = a.options;
    expect(exact).toEqual({
      option: 'exact',
      latencyMs: expect.closeTo(0.99) as number,
      memoryBytes: 4_000,
      storageBytes: 4_000,
      loss: 0,
    });
    // Pruning half of a's channels halves b's inputs: b's latency and weights fall by half whatever
    // b's option, a saving credited to the option (up to its own cost: costs stay >= 0) at b's least
    // figures, int8:compute's (1.54 ms, 1500 bytes), not at b's exact ones.
    expect(prune.latencyMs).toBe(0);
    expect(prune.memoryBytes).toBe(2_000 - 750);
    expect(prune.loss).toBeCloseTo(5);
    const mild = modelProblem(
      { ...version, options: version.options.map((o) => (o.shrinks ? { ...o, weightBytes: 3_900 } : o)) },
      {
        ...costs,
        layerLatencyMs: new Map([
          ...costs.layerLatencyMs,
          [
            'a',
            new Map([
              ['exact', 2],
              ['prune:keep=0.5', 1.5],
            ]),
          ],
        ]),
      },
    ).layers[0].options[1];
    expect(mild.latencyMs).toBeCloseTo(1.5 - 0.5 * 1.54);
    expect(mild.memoryBytes).toBe(3_900 - 750);
    // int8:storage is folded back to float when the session loads: resident at float size.
    expect(int8).toMatchObject({ memoryBytes: 4_000, storageBytes: 1_000, loss: MIN_APPROXIMATION_LOSS });
    // A more accurate option than exact still costs the least loss: exact wins a tie.
    expect(b.options[1]).toMatchObject({ option: 'int8:compute', loss: MIN_APPROXIMATION_LOSS });
    expect(problem.fixed).toEqual({
      latencyMs: costs.fixedLatencyMs,
      memoryBytes: 20_900 + 2_000 + 100,
      storageBytes: 500,
    });
  });
});
