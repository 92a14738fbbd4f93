import { optionLadder } from '@blinknet/approx';
import { buildNetwork } from '@blinknet/zoo';
import { profileModel, ProfilingCancelledError } from './profiler';

describe('profileModel on CIFAR-10-quick', () => {
  const model = buildNetwork('cifar10-quick');
  const ladder = optionLadder(model);
  const options = Object.fromEntries(
    [...ladder].map(([layer, costs]) => [layer, costs.map((c) => c.option)]),
  );

  it('times every option of every layer in isolation, and the whole model', async () => {
    const progress: number[] = [];
    const profile = await profileModel(
      { model, options },
      { session: { intraOpThreads: 1 }, onProgress: (done) => progress.push(done) },
    );
    const total = Object.values(options).flat().length;
    expect(profile.layers).toHaveLength(total);
    expect(progress.at(-1)).toBe(total);
    for (const m of profile.layers) {
      expect(m.stats.medianMs).toBeGreaterThan(0);
      expect(m.context).toMatchObject({ intraOpThreads: 1, executionProvider: 'cpu', batchSize: 1 });
    }
    // lowrank-data has lowrank's structure: timed once, reported for both.
    expect(profile.layers.find((m) => m.option.startsWith('lowrank-data'))?.sameStructureAs).toMatch(
      /^lowrank:/,
    );
    // Each isolated layer pays one run's fixed cost, which the whole model pays once: the profile
    // times an empty run for the planner to take it off the layers.
    expect(profile.runOverheadMs).toBeGreaterThan(0);
    expect(profile.runOverheadMs).toBeLessThan(Math.max(...profile.layers.map((m) => m.stats.medianMs)));
    expect(profile.endToEnd.context.runOverheadMs).toBe(profile.runOverheadMs);
    // Isolated layers each pay what the whole model amortises (a call, layout conversions at the
    // boundaries: measured here about 4x in sum for this tiny net), so the sum is only within a
    // factor of the end-to-end time.
    const exactSum = profile.layers
      .filter((m) => m.option === 'exact')
      .reduce((s, m) => s + m.stats.medianMs, 0);
    const ratio = exactSum / profile.endToEnd.stats.medianMs;
    expect(ratio).toBeGreaterThan(0.2);
    expect(ratio).toBeLessThan(10);
  }, 120_000);

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    const run = profileModel(
      { model, options },
      { onProgress: (done) => (done === 2 ? controller.abort() : undefined), signal: controller.signal },
    );
    await expect(run).rejects.toThrow(ProfilingCancelledError);
    await expect(run).rejects.toThrow(/after 3 of/);
  }, 60_000);
});
