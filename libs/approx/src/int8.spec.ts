import { SeededRandom } from '@blinknet/onnx';
import { calibrateActivation } from './int8';

describe('calibrateActivation', () => {
  it('keeps the full range of evenly spread values, and always holds zero', () => {
    const even = Float32Array.from({ length: 10_000 }, (_, i) => 1 + i / 1000);
    const q = calibrateActivation(even);
    expect(q.zeroPoint).toBe(0);
    expect(q.scale * 255).toBeCloseTo(11, 1);
    const signed = calibrateActivation(Float32Array.from({ length: 1000 }, (_, i) => -1 + i / 500));
    expect(signed.zeroPoint).toBeGreaterThan(100);
    expect(signed.zeroPoint).toBeLessThan(155);
  });

  it('clips the tail of an exponential (post-ReLU-like) distribution for a finer step', () => {
    const random = new SeededRandom(7);
    const values = Float32Array.from({ length: 50_000 }, () => -Math.log(1 - random.next()));
    const top = values.reduce((a, b) => Math.max(a, b));
    const error = (clip: number) => {
      const scale = clip / 255;
      return values.reduce((e, v) => e + (v - Math.min(255, Math.round(v / scale)) * scale) ** 2, 0);
    };
    const q = calibrateActivation(values);
    expect(q.zeroPoint).toBe(0);
    expect(q.scale * 255).toBeLessThan(0.95 * top);
    expect(error(q.scale * 255)).toBeLessThan(error(top));
  });

  it('a constant zero tensor gets a harmless unit scale', () => {
    expect(calibrateActivation(new Float32Array(16))).toEqual({ scale: 1, zeroPoint: 0 });
  });
});
