import { DominanceIndex } from './kd-index';
import { seededRng } from './random';

describe('DominanceIndex', () => {
  it.each([1, 2, 4, 6])('answers like a linear scan in %i dimensions', (dims) => {
    const rng = seededRng(dims);
    const n = 3000;
    // Coarse values: ties and duplicates on purpose.
    const points = Float64Array.from({ length: n * dims }, () => Math.floor(rng() * 20) / 20);
    const index = new DominanceIndex(dims, n);
    const inserted: number[] = [];
    let dominatedCount = 0;
    for (let i = 0; i < n; i++) {
      const expected = inserted.some((j) => {
        for (let d = 0; d < dims; d++) if (points[j * dims + d] > points[i * dims + d]) return false;
        return true;
      });
      expect(index.dominated(points, i * dims)).toBe(expected);
      if (expected) dominatedCount++;
      // Insert some dominated points too: the index must not assume an antichain.
      if (!expected || i % 7 === 0) {
        index.insert(points, i * dims);
        inserted.push(i);
      }
    }
    expect(index.size).toBe(inserted.length);
    expect(dominatedCount).toBeGreaterThan(0);
    expect(dominatedCount).toBeLessThan(n);
  });

  it('with no dimensions, any point dominates', () => {
    const index = new DominanceIndex(0, 2);
    expect(index.dominated([])).toBe(false);
    index.insert([]);
    expect(index.dominated([])).toBe(true);
  });
});
