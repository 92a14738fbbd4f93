import { LadderMonitor } from './monitor';

describe('LadderMonitor', () => {
  let now = 0;
  const monitor = (stepUpAfterMs = 1000) =>
    new LadderMonitor({ windowSize: 20, minSamples: 10, slack: 0.5, stepUpAfterMs, now: () => now });
  const feed = (m: LadderMonitor, ms: number, count: number, everyMs = 10) => {
    const decisions = [];
    for (let i = 0; i < count; i++) {
      now += everyMs;
      const d = m.record('net', ms);
      if (d) decisions.push(d.kind);
    }
    return decisions;
  };
  beforeEach(() => {
    now = 0;
  });

  it('steps down once the window percentile passes the bound, one step per window', () => {
    const m = monitor();
    m.watch('net', { latencyMs: 10 }, 0, 3);
    expect(feed(m, 9, 30)).toEqual([]);
    expect(feed(m, 12, 1)).toEqual([]); // one slow request in 20: p95 still under the bound
    expect(feed(m, 12, 1)).toEqual(['step-down']);
    expect(feed(m, 12, 9)).toEqual([]); // a fresh window for the new variant
    expect(feed(m, 12, 1)).toEqual(['step-down']);
    // The last variant cannot go lower: the violation is reported, once per window.
    expect(feed(m, 12, 20)).toEqual(['violated']);
  });

  it('steps back up only after sustained slack, and waits longer after a step up that failed', () => {
    const m = monitor(1000);
    m.watch('net', { latencyMs: 10 }, 1, 2);
    /** Feeds `ms` every 10 ms until a decision; returns it and the time it took. */
    const until = (ms: number) => {
      const start = now;
      for (let i = 0; i < 1000; i++) {
        now += 10;
        const d = m.record('net', ms);
        if (d) return { kind: d.kind, afterMs: now - start };
      }
      return undefined;
    };
    expect(feed(m, 6, 300)).toEqual([]); // under the bound, but not under slack x bound
    const up = until(4)!;
    expect(up.kind).toBe('step-up');
    expect(up.afterMs).toBeGreaterThanOrEqual(1000);
    expect(up.afterMs).toBeLessThan(1300);
    // The step up does not hold: down again at once, and the next step up needs twice the slack.
    expect(until(20)).toEqual({ kind: 'step-down', afterMs: 100 });
    const again = until(4)!;
    expect(again.kind).toBe('step-up');
    expect(again.afterMs).toBeGreaterThanOrEqual(2000);
  });

  it('ignores models without a latency bound or not watched', () => {
    const m = monitor();
    m.watch('net', {}, 0, 2);
    expect(feed(m, 1000, 50)).toEqual([]);
    expect(m.record('other', 1000)).toBeUndefined();
  });

  it('steps down the model with the largest memory bound when the models together hold too much', () => {
    const m = monitor();
    m.watch('small', { memoryBytes: 10e6 }, 0, 2);
    m.watch('large', { memoryBytes: 50e6 }, 0, 2);
    expect(m.checkMemory(55e6)).toBeUndefined();
    expect(m.checkMemory(70e6)).toEqual({ model: 'large', observedBytes: 70e6, boundBytes: 60e6 });
    expect(m.checkMemory(70e6)).toEqual({ model: 'small', observedBytes: 70e6, boundBytes: 60e6 });
    expect(m.checkMemory(70e6)).toBeUndefined(); // both at their last variant: nothing left to do
  });
});
