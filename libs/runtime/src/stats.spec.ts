import { medianWindow, quantile, summarize } from './stats';

describe('latency statistics', () => {
  it('interpolates quantiles between ranks', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(sorted, 0.5)).toBe(5.5);
    expect(quantile(sorted, 0.95)).toBeCloseTo(9.55, 10);
    expect(quantile(sorted, 0)).toBe(1);
    expect(quantile(sorted, 1)).toBe(10);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('summarizes unsorted samples with median, tails and CV', () => {
    const stats = summarize([3, 1, 2, 5, 4]);
    expect(stats).toMatchObject({ runs: 5, medianMs: 3, minMs: 1, maxMs: 5, meanMs: 3 });
    expect(stats.cv).toBeCloseTo(Math.sqrt(2.5) / 3, 10);
    expect(summarize([2, 2, 2]).cv).toBe(0);
  });

  it('judges by the median window by p95: neither a slow spell nor a lucky window decides', () => {
    const windows = [{ p95: 3 }, { p95: 9 }, { p95: 1 }, { p95: 4 }, { p95: 2 }];
    expect(medianWindow(windows, (w) => w.p95)).toBe(windows[0]);
    expect(medianWindow(windows.slice(0, 3), (w) => w.p95)).toBe(windows[0]);
  });
});
