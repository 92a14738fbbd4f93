import { type Deployment, type GetStatusResponse } from '@blinknet/proto/v1/admin';
import { encodeModel, ModelBuilder } from '@blinknet/onnx';
import { type Daemon, LOOP_ENDED, setPolicy, startAgent, uploadModel } from './fleet';
import { type E2eFleet, startE2eFleet } from './harness';

// A device slower than its class: the class is profiled by an agent running onnxruntime on 2
// threads, then an agent on 1 thread joins it, so the plan the class predicted to meet the bound
// misses it there, and the loop must re-plan from what that device measured.
//
// The model is made for the gap to be wide: three 64-channel convolutions at 28x28 run at a median
// of 0.86 ms on 1 thread and 0.51 on 2 on this 2-core machine (measured), while CIFAR-10-quick gains
// only 0.185 vs 0.137 ms, less than the drift of one device's median between two verifications
// (measured: 0.171 then 0.137 ms). The bound is on the median: at 2 threads the p95 of such
// convolutions can be longer than at 1 (the other processes take a core now and then). The test
// needs the machine to itself (`npm test` runs the end-to-end tests last, alone): with the unit
// tests running beside it, 2 threads lost their advantage (0.739 vs 0.866 ms, in a CI run).

const CLASS = 'e2e-2threads';
const MODEL = 'convs-28';
/** The latency bound, on the median, over the exact model's as the class's own device measured it. */
const BOUND_OVER_MEASURED = 1.3;
const PERCENTILE = 50;

/** Convolutions that keep two cores busy: 3 at 64 channels and 28x28, then a 10-way classifier. */
function wideConvs(): Uint8Array {
  const b = new ModelBuilder({ name: MODEL, seed: 7 });
  let x = b.input('x', [1, 64, 28, 28]);
  for (const i of [1, 2, 3])
    x = b.relu(b.conv(x, { name: `conv${i}`, outChannels: 64, kernel: 3, pad: 1 }), `relu${i}`);
  const pooled = b.averagePool(x, 'pool', { kernel: 4, stride: 4 });
  b.output(b.gemm(b.flatten(pooled, 'flatten'), 'fc', 10));
  return encodeModel(b.build());
}

let fleet: E2eFleet;
let fast: Daemon;
let slow: Daemon | undefined;

beforeAll(async () => {
  // A round goes to one device first, then to the rest of the class once it met the bounds there.
  fleet = await startE2eFleet('slow', { maxRounds: 5, canaryDevices: 1 });
  fast = await startAgent(fleet.agentOptions('e2e-fast-box', CLASS, 2));
  // No data set: accuracy is agreement with the model as uploaded, on seeded random inputs.
  await uploadModel(fleet.client, MODEL, '', wideConvs());
}, 60_000);

afterAll(() => fleet?.stop(slow, fast));

const on = (s: GetStatusResponse, device: string) => s.deployments.filter((d) => d.deviceName === device);

describe('a device slower than its class predicted', () => {
  it('misses the bound on its first deployment, and the re-plan from its figures meets it', async () => {
    // The model as uploaded, measured on the class's device (no bound binds).
    await setPolicy(fleet.client, CLASS, {
      models: [{ model: MODEL }],
      storageBytes: 1e12,
      latencyPercentile: PERCENTILE,
    });
    const original = await fleet.loopEnded(CLASS);
    expect(original.loops[0].state).toBe('converged');
    const exactMedian = original.deployments[0].measured!.latencyMs;
    expect(exactMedian).toBeGreaterThan(0);

    // A bound the class's cost model says the model meets as it is: round 1 deploys it unapproximated
    // (if the class's own device drifts past it, a later round approximates; either way the plan has
    // been verified on the class's device, with a margin the slow device does not have).
    const boundMs = BOUND_OVER_MEASURED * exactMedian;
    await setPolicy(fleet.client, CLASS, {
      models: [{ model: MODEL, latencyMs: boundMs }],
      latencyPercentile: PERCENTILE,
    });
    const first = await fleet.loopEnded(CLASS);
    expect(first.loops[0].state).toBe('converged');
    expect(on(first, 'e2e-fast-box')).toMatchObject([{ state: 'active', planId: first.loops[0].planId }]);

    // The slower device joins the class and gets the converged plan: it measures a miss.
    slow = await startAgent(fleet.agentOptions('e2e-slow-box', CLASS, 1));
    let missed: Deployment | undefined;
    const ended = await fleet.statusWhen(
      CLASS,
      'the slow device to miss the bound, then the loop to end',
      (s) => {
        missed ??= on(s, 'e2e-slow-box').find(
          (d) => d.planId === first.loops[0].planId && d.violations.length > 0,
        );
        return missed !== undefined && LOOP_ENDED.includes(s.loops[0].state);
      },
      100,
    );
    expect(missed).toMatchObject({ planId: first.loops[0].planId, state: 'failed' });
    expect(missed!.violations).toEqual([expect.stringMatching(/^latency [0-9.]+ > bound/)]);
    expect(missed!.measured!.latencyMs).toBeGreaterThan(boundMs);

    // Re-planned from what the slow device measured: a new plan, met on both devices as measured.
    expect(ended.loops[0].state).toBe('converged');
    expect(ended.loops[0].round).toBeGreaterThan(first.loops[0].round);
    expect(ended.loops[0].planId).not.toBe(first.loops[0].planId);
    const deployed = ended.deployments.filter((d) => d.planId === ended.loops[0].planId);
    expect(deployed.map((d) => [d.deviceName, d.state]).sort()).toEqual([
      ['e2e-fast-box', 'active'],
      ['e2e-slow-box', 'active'],
    ]);
    for (const d of deployed) {
      expect(d.measured!.latencyMs).toBeGreaterThan(0);
      expect(d.measured!.latencyMs).toBeLessThanOrEqual(boundMs);
    }
  }, 400_000);
});
