import { type ModelProblem } from '@blinknet/planner-core';
import { calibrate, calibrationFrom, calibrationFromPlans, rawFigures, UNCALIBRATED } from './calibration';

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
  it('sums the chosen options on the uncalibrated cost model', () => {
    expect(rawFigures(problem, { a: 'low' })).toEqual({
      fixedLatencyMs: 0.1,
      layersLatencyMs: 0.5,
      memoryBytes: 1400,
    });
  });

  it.each([
    ['slower than predicted: added to the fixed costs', 1.2],
    ['a little faster: taken off the fixed costs', 0.75],
    ['faster than the options add up to: the options scale down', 0.35],
  ])('makes the measured plan predict what was measured (%s)', (_, measuredMs) => {
    const choices = { a: 'low' };
    const calibration = calibrationFrom(rawFigures(problem, choices), {
      latencyMs: measuredMs,
      memoryBytes: 2000,
    });
    const after = predicted(calibrate(problem, calibration), choices);
    expect(after.latencyMs).toBeCloseTo(measuredMs, 12);
    expect(after.memoryBytes).toBe(2000);
  });

  it('keeps what options save when the device is slower, and scales it when it is faster', () => {
    const slower = calibrate(problem, calibrationFrom(rawFigures(problem, {}), { latencyMs: 1.6 }));
    expect(predicted(slower, {}).latencyMs - predicted(slower, { a: 'low' }).latencyMs).toBeCloseTo(0.2, 12);
    const faster = calibrate(problem, calibrationFrom(rawFigures(problem, {}), { latencyMs: 0.35 }));
    expect(faster.fixed.latencyMs).toBe(0);
    expect(predicted(faster, {}).latencyMs - predicted(faster, { a: 'low' }).latencyMs).toBeCloseTo(0.1, 12);
  });

  it('leaves an uncalibrated problem as it is', () => {
    expect(calibrate(problem, UNCALIBRATED)).toEqual(problem);
    expect(calibrationFrom(rawFigures(problem, {}), { latencyMs: 0.8 })).toEqual({
      latencyScale: 1,
      latencyMs: expect.closeTo(0, 12),
      memoryBytes: 0,
    });
  });

  describe('from several measured plans', () => {
    const original = rawFigures(problem, {}); // options 0.7 ms
    const approximated = rawFigures(problem, { a: 'low', b: 'low' }); // options 0.3 ms

    it('fits how much of what the options save the device saw', () => {
      // The device saw 0.2 ms of the 0.4 ms the options were predicted to save.
      const calibration = calibrationFromPlans([
        { raw: approximated, latencyMs: 1.0, memoryBytes: 2000 },
        { raw: original, latencyMs: 1.2, memoryBytes: 2400 },
      ]);
      expect(calibration.latencyScale).toBeCloseTo(0.5, 12);
      const calibrated = calibrate(problem, calibration);
      expect(predicted(calibrated, {}).latencyMs).toBeCloseTo(1.2, 12);
      expect(predicted(calibrated, { a: 'low', b: 'low' }).latencyMs).toBeCloseTo(1.0, 12);
      expect(calibration.memoryBytes).toBe(
        (2000 - approximated.memoryBytes + 2400 - original.memoryBytes) / 2,
      );
    });

    it('takes options that measured no faster as saving (almost) nothing', () => {
      const calibration = calibrationFromPlans([
        { raw: approximated, latencyMs: 1.3 },
        { raw: original, latencyMs: 1.2 },
      ]);
      expect(calibration.latencyScale).toBe(0.05);
      const calibrated = calibrate(problem, calibration);
      const saved =
        predicted(calibrated, {}).latencyMs - predicted(calibrated, { a: 'low', b: 'low' }).latencyMs;
      expect(saved).toBeCloseTo(0.05 * 0.4, 12);
    });

    it('uses the mean of plans that cost alike, as one plan', () => {
      const calibration = calibrationFromPlans([
        { raw: original, latencyMs: 1.0 },
        { raw: original, latencyMs: 1.2 },
      ]);
      expect(calibration).toEqual(
        calibrationFrom(original, { latencyMs: 1.1, memoryBytes: original.memoryBytes }),
      );
      expect(calibrationFromPlans([])).toEqual(UNCALIBRATED);
    });
  });
});
