import { type ModelProblem } from '@blinknet/planner-core';
import { calibrate, calibrationFromPlans, type MeasuredPlan, rawFigures, UNCALIBRATED } from './calibration';

const option = (name: string, latencyMs: number, memoryBytes: number) => ({
  option: name,
  latencyMs,
  memoryBytes,
  storageBytes: memoryBytes,
  loss: name === 'exact' ? 0 : 1,
});

const problem: ModelProblem = {
  model: 'm',
  fixed: { latencyMs: 0.1, memoryBytes: 1000, storageBytes: 10 },
  layers: [
    { layer: 'a', options: [option('exact', 0.4, 400), option('low', 0.2, 100)] },
    { layer: 'b', options: [option('exact', 0.3, 300), option('low', 0.1, 50)] },
  ],
};

/** The calibrated problem's latency and memory for the plan `choices`. */
function predicted(p: ModelProblem, choices: Record<string, string>) {
  const raw = rawFigures(p, choices);
  return { latencyMs: raw.fixedLatencyMs + raw.layersLatencyMs, memoryBytes: raw.memoryBytes };
}

describe('calibration', () => {
  const one = (raw: MeasuredPlan['raw'], latencyMs: number, memoryBytes?: number) =>
    calibrationFromPlans([{ raw, latencyMs, memoryBytes }]);

  it('sums the chosen options on the uncalibrated cost model, with what each approximation saves', () => {
    expect(rawFigures(problem, { a: 'low' })).toEqual({
      fixedLatencyMs: 0.1,
      layersLatencyMs: 0.5,
      memoryBytes: 1400,
      approximations: { a: { option: 'low', savingMs: expect.closeTo(0.2, 12) as number, exactMs: 0.4 } },
    });
  });

  it.each([
    ['slower than predicted: charged to the approximation', 1.2],
    ['a little faster: taken off the fixed costs', 0.55],
    ['faster than the options add up to: the options scale down', 0.35],
  ])('makes the measured plan predict what was measured (%s)', (_, measuredMs) => {
    const choices = { a: 'low' };
    const calibration = one(rawFigures(problem, choices), measuredMs, 2000);
    const after = predicted(calibrate(problem, calibration), choices);
    expect(after.latencyMs).toBeCloseTo(measuredMs, 12);
    expect(after.memoryBytes).toBe(2000);
  });

  it('charges a miss to the approximations by the size of their layers, and the fixed latency without any', () => {
    // Predicted 0.1 + 0.2 + 0.1 = 0.4 ms; measured 0.7: 0.3 ms, 4:3 as the exact layers (0.4, 0.3 ms).
    const calibration = one(rawFigures(problem, { a: 'low', b: 'low' }), 0.7);
    expect(calibration).toMatchObject({ latencyScale: 1, latencyMs: 0 });
    expect(calibration.optionLatencyMs.a.low).toBeCloseTo(0.3 * (4 / 7), 12);
    expect(calibration.optionLatencyMs.b.low).toBeCloseTo(0.3 * (3 / 7), 12);
    // Exact options and other plans keep their figures.
    const calibrated = calibrate(problem, calibration);
    expect(predicted(calibrated, {}).latencyMs).toBeCloseTo(0.8, 12);
    // The model as uploaded: the fixed latency.
    const slower = one(rawFigures(problem, {}), 1.6);
    expect(slower).toMatchObject({ latencyScale: 1, latencyMs: expect.closeTo(0.8, 12) as number });
    const whole = calibrate(problem, slower);
    expect(predicted(whole, {}).latencyMs - predicted(whole, { a: 'low' }).latencyMs).toBeCloseTo(0.2, 12);
  });

  it('charges every rank of a factorisation on that layer, and nothing else', () => {
    const ladder: ModelProblem = {
      ...problem,
      layers: [
        {
          layer: 'a',
          options: [
            option('exact', 0.4, 400),
            option('lowrank:r=2', 0.2, 100),
            option('lowrank-data:r=4', 0.25, 150),
            option('prune:keep=0.5', 0.2, 200),
          ],
        },
        problem.layers[1],
      ],
    };
    const calibration = one(rawFigures(ladder, { a: 'lowrank:r=2' }), 0.9);
    expect(calibration.optionLatencyMs).toEqual({ a: { lowrank: expect.closeTo(0.3, 12) as number } });
    const [a] = calibrate(ladder, calibration).layers;
    expect(a.options.map((o) => o.latencyMs)).toEqual(
      [0.4, 0.5, 0.55, 0.2].map((ms) => expect.closeTo(ms, 12)),
    );
  });

  it('charges an option predicted to cost latency too: what it costs inside the model is not known either', () => {
    const costly: ModelProblem = {
      ...problem,
      layers: [
        problem.layers[0],
        { layer: 'b', options: [option('exact', 0.3, 300), option('int8', 0.32, 80)] },
      ],
    };
    const calibration = one(rawFigures(costly, { a: 'low', b: 'int8' }), 0.9);
    expect(calibration.optionLatencyMs.b.int8).toBeGreaterThan(0);
  });

  it('charges a technique on the layers no plan tried it on, at the rate it missed by', () => {
    const three: ModelProblem = {
      ...problem,
      layers: [
        ...problem.layers,
        { layer: 'c', options: [option('exact', 0.2, 200), option('low', 0.1, 80)] },
      ],
    };
    // Predicted 0.1 + 0.2 + 0.3 + 0.2 = 0.8 ms with a low; measured 1.0: 0.2 ms on a's 0.4 ms.
    const calibration = one(rawFigures(three, { a: 'low' }), 1.0);
    expect(calibration.techniqueRate.low).toBeCloseTo(0.5, 12);
    const [, b, c] = calibrate(three, calibration).layers;
    expect(b.options[1].latencyMs).toBeCloseTo(0.1 + 0.5 * 0.3, 12);
    expect(c.options[1].latencyMs).toBeCloseTo(0.1 + 0.5 * 0.2, 12);
    expect([b.options[0].latencyMs, c.options[0].latencyMs]).toEqual([0.3, 0.2]);
  });

  it('scales what options save only where the device runs faster than they add up to', () => {
    // Predicted 0.1 + 0.2 + 0.3 = 0.6 ms; measured 0.35: the fixed 0.1, then the options x 0.7.
    const faster = calibrate(problem, one(rawFigures(problem, { a: 'low' }), 0.35));
    expect(faster.fixed.latencyMs).toBe(0);
    expect(predicted(faster, {}).latencyMs - predicted(faster, { a: 'low' }).latencyMs).toBeCloseTo(0.14, 12);
  });

  it('credits the exact layers with what the original ran faster, which a plan gives up where it approximates', () => {
    // Predicted 0.8 ms, measured 0.66: the exact layers (0.7 ms) x 0.8, the fixed latency as it was.
    const calibration = one(rawFigures(problem, {}), 0.66);
    expect(calibration.exactScale).toBeCloseTo(0.8, 12);
    expect(calibration.latencyMs).toBeCloseTo(0, 12);
    const calibrated = calibrate(problem, calibration);
    expect(predicted(calibrated, {}).latencyMs).toBeCloseTo(0.66, 12);
    // a low keeps b's credit only: 0.1 + 0.2 + 0.3 x 0.8 (taken off the fixed latency: 0.46).
    expect(predicted(calibrated, { a: 'low' }).latencyMs).toBeCloseTo(0.54, 12);
    // A later reading of the original as predicted takes the credit back; a slower one adds the rest
    // to the fixed latency.
    const original = rawFigures(problem, {});
    const again = (ms: number) =>
      calibrationFromPlans([
        { raw: original, latencyMs: ms },
        { raw: original, latencyMs: 0.66 },
      ]);
    expect(again(0.8)).toMatchObject({
      exactScale: expect.closeTo(1, 12) as number,
      latencyMs: expect.closeTo(0, 12) as number,
    });
    // A plan that then runs faster than the credited layers add up to predicts what it measured.
    const faster = calibrationFromPlans([
      { raw: rawFigures(problem, { a: 'low' }), latencyMs: 0.2 },
      { raw: original, latencyMs: 0.66 },
    ]);
    expect(predicted(calibrate(problem, faster), { a: 'low' }).latencyMs).toBeCloseTo(0.2, 12);
    expect(again(0.9)).toMatchObject({
      exactScale: expect.closeTo(1, 12) as number,
      latencyMs: expect.closeTo(0.1, 12) as number,
    });
  });

  it('leaves an uncalibrated problem as it is', () => {
    expect(calibrate(problem, UNCALIBRATED)).toEqual(problem);
    expect(calibrationFromPlans([])).toEqual(UNCALIBRATED);
    expect(one(rawFigures(problem, {}), 0.8)).toEqual({
      ...UNCALIBRATED,
      exactScale: expect.closeTo(1, 12) as number,
      latencyMs: expect.closeTo(0, 12) as number,
    });
  });

  describe('from several measured plans, oldest first', () => {
    const original = rawFigures(problem, {}); // 0.8 ms
    const both = rawFigures(problem, { a: 'low', b: 'low' }); // 0.4 ms
    const onlyB = rawFigures(problem, { b: 'low' }); // 0.6 ms

    it('learns the fixed latency from the original and what each approximation really saves', () => {
      // The original ran 0.2 ms slower than predicted; with both layers low it saved 0.2 ms, not 0.4.
      const calibration = calibrationFromPlans([
        { raw: both, latencyMs: 0.8, memoryBytes: 2000 },
        { raw: original, latencyMs: 1.0, memoryBytes: 2400 },
      ]);
      expect(calibration.latencyMs).toBeCloseTo(0.2, 12);
      const calibrated = calibrate(problem, calibration);
      expect(predicted(calibrated, {}).latencyMs).toBeCloseTo(1.0, 12);
      expect(predicted(calibrated, { a: 'low', b: 'low' }).latencyMs).toBeCloseTo(0.8, 12);
      expect(calibration.memoryBytes).toBe(Math.max(2000 - both.memoryBytes, 2400 - original.memoryBytes));
    });

    it('adds the largest memory excess a plan measured, and never credits a plan that took less', () => {
      const over = (bytes: number) => ({
        raw: original,
        latencyMs: 0.8,
        memoryBytes: original.memoryBytes + bytes,
      });
      expect(calibrationFromPlans([over(100), over(-500), over(300)]).memoryBytes).toBe(300);
      expect(calibrationFromPlans([over(-500)]).memoryBytes).toBe(0);
    });

    it('gives back what an option was charged when a later plan with it runs faster', () => {
      const calibration = calibrationFromPlans([
        { raw: onlyB, latencyMs: 0.6 }, // b delivered after all (a first reading was noise)
        { raw: both, latencyMs: 0.7 }, // 0.3 ms charged, 4:3 to a and b
      ]);
      expect(calibration.optionLatencyMs.b.low).toBeCloseTo(0, 12);
      expect(calibration.optionLatencyMs.a.low).toBeCloseTo(0.3 * (4 / 7), 12);
      expect(calibration.latencyMs).toBe(0);
    });
  });
});
