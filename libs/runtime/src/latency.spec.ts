import { encodeModel, ModelBuilder } from '@blinknet/onnx';
import { measureLatency, MIN_RUNS_IN_BUDGET } from './latency';
import { ModelSession } from './session';

describe('measureLatency', () => {
  it('times real runs after warm-up and records the context', async () => {
    const b = new ModelBuilder({ name: 'conv' });
    const x = b.input('x', [1, 16, 32, 32]);
    b.output(b.relu(b.conv(x, { name: 'conv', outChannels: 32, kernel: 3, pad: 1 }), 'relu'));
    const session = await ModelSession.create(encodeModel(b.build()), {
      intraOpThreads: 1,
      graphOptimizationLevel: 'all',
    });
    try {
      const input = { x: { data: new Float32Array(16 * 32 * 32).fill(0.5), dims: [1, 16, 32, 32] } };
      const { stats, context } = await measureLatency(session, input, { warmupRuns: 3, timedRuns: 20 });
      expect(stats.runs).toBe(20);
      expect(stats.medianMs).toBeGreaterThan(0);
      expect(stats.minMs).toBeLessThanOrEqual(stats.medianMs);
      expect(stats.p95Ms).toBeGreaterThanOrEqual(stats.medianMs);
      expect(stats.p99Ms).toBeGreaterThanOrEqual(stats.p95Ms);
      expect(context).toMatchObject({
        executionProvider: 'cpu',
        intraOpThreads: 1,
        interOpThreads: 1,
        graphOptimizationLevel: 'all',
        warmupRuns: 3,
        timedRuns: 20,
        batchSize: 1,
      });
      await expect(measureLatency(session, input, { timedRuns: 0 })).rejects.toThrow(/timedRuns/);
      // A time floor adds samples beyond the count, up to 20x.
      const longer = await measureLatency(session, input, { warmupRuns: 1, timedRuns: 5, minTimedMs: 1000 });
      expect(longer.stats.runs).toBeGreaterThan(5);
      expect(longer.stats.runs).toBeLessThanOrEqual(100);
      expect(longer.context.timedRuns).toBe(longer.stats.runs);
      // A time budget stops early, but never under MIN_RUNS_IN_BUDGET samples.
      const budget = await measureLatency(session, input, { warmupRuns: 0, timedRuns: 500, maxTimedMs: 0 });
      expect(budget.stats.runs).toBe(MIN_RUNS_IN_BUDGET);
    } finally {
      await session.dispose();
    }
  });
});
