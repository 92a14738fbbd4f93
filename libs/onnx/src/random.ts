/**
 * A small seeded PRNG (mulberry32) and a Gaussian sampler, so that built models are byte-identical
 * across runs and machines. Not for cryptography.
 */

// Bound once: this runs 138 M times to initialise VGG16, and global lookups are slow inside vm
// contexts such as Jest's (about 20x here).
const { imul, log, sqrt, sin, cos, PI } = Math;

export class SeededRandom {
  private state: number;
  private spare = NaN;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    const u = 1 - this.next(); // (0, 1]: log is finite
    const v = this.next();
    const r = sqrt(-2 * log(u));
    this.spare = r * sin(2 * PI * v);
    return r * cos(2 * PI * v);
  }

  /** Fills an array with N(0, std^2) samples, both values of each Box-Muller pair in turn. */
  fillNormal(out: Float32Array, std: number): Float32Array {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const r = sqrt(-2 * log(1 - this.next())) * std;
      const angle = 2 * PI * this.next();
      out[i] = r * cos(angle);
      if (i + 1 < n) out[i + 1] = r * sin(angle);
    }
    return out;
  }
}
