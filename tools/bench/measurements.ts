import { type ModelProfile } from '@blinknet/agent';
import { type ClassMeasurement } from '@blinknet/planner-core';

/** A profile of this machine as the class measurements the planner's cost model is built from. */
export function classMeasurements(
  profile: ModelProfile,
  memory: { readonly residentBytes: number; readonly weightBytes: number } = {
    residentBytes: 0,
    weightBytes: 0,
  },
): ClassMeasurement[] {
  const at = Date.now();
  const { medianMs, p95Ms, p99Ms } = profile.endToEnd.stats;
  return [
    ...profile.layers.map((m) => ({
      kind: 'layer-latency' as const,
      deviceId: 'this',
      layer: m.layer,
      option: m.option,
      medianMs: m.stats.medianMs,
      at,
    })),
    {
      kind: 'model-latency',
      deviceId: 'this',
      medianMs,
      p95Ms,
      p99Ms,
      runOverheadMs: profile.runOverheadMs,
      at,
    },
    { kind: 'model-memory', deviceId: 'this', ...memory, at },
  ];
}
