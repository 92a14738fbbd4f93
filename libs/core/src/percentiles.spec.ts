import { latencyAt } from './percentiles';

describe('latencyAt', () => {
  const figures = { medianMs: 1, p95Ms: 2, p99Ms: 3 };

  it('picks the figure a bound at that percentile is checked against', () => {
    expect([50, 95, 99].map((p) => latencyAt(figures, p))).toEqual([1, 2, 3]);
  });

  it('reads an unset percentile as the p95, the default of every policy', () => {
    expect(latencyAt(figures, 0)).toBe(2);
  });
});
