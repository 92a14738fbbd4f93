import { type DeploymentRecord, type PolicyRecord, type RuntimeEventRecord } from '@blinknet/store';
import { closestMeasured, jointlyMet, measuredFigures, underPressure } from './rounds';

const policy: PolicyRecord = {
  id: 'p',
  scope: { deviceClass: 'rpi4' },
  deviceClassId: 'c',
  models: [{ model: 'cifar' }, { model: 'lenet' }],
  latencyPercentile: 95,
  totalLatencyBoundMs: 0.3,
  memoryBoundBytes: 60e6,
  storageBoundBytes: 1e6,
  latencyMargin: 1,
  updatedAt: new Date(0),
};

function deployment(
  model: string,
  state: DeploymentRecord['state'],
  latencyMs: number,
  device = 'd1',
  residentBytes = 29e6,
): DeploymentRecord {
  return {
    id: `${device}-${model}`,
    planId: 'plan',
    round: 1,
    deviceId: device,
    deviceName: device,
    deviceClass: 'rpi4',
    model,
    state,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    plan: {
      predicted: {},
      measured: {},
      ladder: { [model]: [{ sha256: 'x', bytes: 400e3, factor: 1, choices: {} }] },
    },
    measured: { latencyMs, residentBytes },
    violations: [],
  };
}

describe('a round judged against its policy', () => {
  it('meets a joint bound with its models together even when one missed its share', () => {
    // cifar was rolled back over its share (0.3 x 0.2 / 0.26 = 0.23 ms), but the round takes 0.28 ms.
    const round = [deployment('cifar', 'rolled-back', 0.235), deployment('lenet', 'active', 0.045)];
    expect(jointlyMet(policy, round)).toBe(true);
    expect(measuredFigures(round)).toEqual({
      cifar: { latencyMs: 0.235, memoryBytes: 29e6 },
      lenet: { latencyMs: 0.045, memoryBytes: 29e6 },
    });
  });

  it.each([
    [
      'the round is too slow',
      [deployment('cifar', 'rolled-back', 0.26), deployment('lenet', 'active', 0.045)],
    ],
    [
      'memory together is over',
      [deployment('cifar', 'active', 0.1, 'd1', 40e6), deployment('lenet', 'active', 0.1)],
    ],
    ['a model is missing', [deployment('cifar', 'active', 0.1)]],
    [
      'a deployment failed to install',
      [deployment('cifar', 'failed', 0.1), deployment('lenet', 'active', 0.1)],
    ],
    [
      'one of two devices is too slow',
      [
        deployment('cifar', 'active', 0.1),
        deployment('lenet', 'active', 0.1),
        deployment('cifar', 'rolled-back', 0.3, 'd2'),
        deployment('lenet', 'active', 0.1, 'd2'),
      ],
    ],
  ])('does not when %s', (_, round) => {
    expect(jointlyMet(policy, round)).toBe(false);
  });

  it('holds a model to its own bound too', () => {
    const own = { ...policy, models: [{ model: 'cifar', latencyBoundMs: 0.2 }, { model: 'lenet' }] };
    expect(
      jointlyMet(own, [deployment('cifar', 'rolled-back', 0.21), deployment('lenet', 'active', 0.05)]),
    ).toBe(false);
  });

  it("names a failed loop's closest round by its worst device", () => {
    const figures = (p95: number[], memory: number[]) =>
      p95.map((v, i) => ({ device: `d${i % 2}`, measuredLatencyMs: v, measuredMemoryBytes: memory[i] }));
    const detail = closestMeasured([
      { round: 2, measured: { devices: figures([0.2, 0.3], [30e6, 31e6]) } },
      { round: 1, measured: { devices: figures([0.25, 0.26], [29e6, 29e6]) } },
    ]);
    expect(detail).toBe('closest measured: latency 0.260 ms (round 1), memory 29.00 MB (round 1)');
  });
});

describe('underPressure', () => {
  const event = (deviceId: string, kind: RuntimeEventRecord['kind'], atS: number): RuntimeEventRecord => ({
    deviceId,
    model: 'cifar',
    kind,
    detail: `${kind} at ${atS}`,
    at: new Date(atS * 1000),
  });

  it('names a device stepped down for long enough, from the first step of its spell', () => {
    const events = [
      event('d1', 'ladder-step-down', 10),
      event('d1', 'bound-violated', 40),
      event('d2', 'ladder-step-down', 50),
    ];
    expect(underPressure(events, 75_000, 60_000)).toEqual([
      { deviceId: 'd1', model: 'cifar', since: new Date(10_000), detail: 'ladder-step-down at 10' },
    ]);
    expect(underPressure(events, 69_000, 60_000)).toEqual([]);
  });

  it('forgets a spell the device stepped back up from', () => {
    const events = [event('d1', 'ladder-step-down', 10), event('d1', 'ladder-step-up', 30)];
    expect(underPressure(events, 1e6, 60_000)).toEqual([]);
    const again = [...events, event('d1', 'ladder-step-down', 100)];
    expect(underPressure(again, 170_000, 60_000).map((p) => p.since)).toEqual([new Date(100_000)]);
  });
});
