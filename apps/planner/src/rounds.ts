/**
 * What a closed-loop round measured, judged against its policy: pure functions of stored figures.
 */
import { formatBytes } from '@blinknet/core';
import { type TightestFigures } from '@blinknet/planner-core';
import { type DeploymentRecord, type PolicyRecord, type RuntimeEventRecord } from '@blinknet/store';
import { type ShareBasis } from './deploy';

/** Whether each device's measured figures, its models together, meet the policy's bounds. */
export function jointlyMet(policy: PolicyRecord, deployments: readonly DeploymentRecord[]): boolean {
  const byDevice = new Map<string, DeploymentRecord[]>();
  for (const d of deployments) byDevice.set(d.deviceId, [...(byDevice.get(d.deviceId) ?? []), d]);
  const within = (value: number, bound: number | undefined) => bound === undefined || value <= bound;
  return [...byDevice.values()].every((own) => {
    const complete =
      own.length === policy.models.length &&
      own.every((d) => ['active', 'rolled-back'].includes(d.state) && d.measured.latencyMs !== undefined);
    if (!complete) return false;
    const sum = (f: (d: DeploymentRecord) => number) => own.reduce((n, d) => n + f(d), 0);
    const ownBound = (d: DeploymentRecord) => policy.models.find((m) => m.model === d.model)?.latencyBoundMs;
    return (
      own.every((d) => within(d.measured.latencyMs!, ownBound(d))) &&
      within(
        sum((d) => d.measured.latencyMs!),
        policy.totalLatencyBoundMs,
      ) &&
      within(
        sum((d) => d.measured.residentBytes ?? Infinity),
        policy.memoryBoundBytes,
      ) &&
      within(
        sum((d) => (d.plan.ladder[d.model] ?? []).reduce((n, r) => n + r.bytes, 0)),
        policy.storageBoundBytes,
      )
    );
  });
}

/** Per model, the worst of what its devices measured (latency at the policy's percentile, resident memory). */
export function measuredFigures(deployments: readonly DeploymentRecord[]): Record<string, ShareBasis> {
  const basis: Record<string, ShareBasis> = {};
  for (const d of deployments) {
    const seen = basis[d.model] ?? { latencyMs: 0, memoryBytes: 0 };
    basis[d.model] = {
      latencyMs: Math.max(seen.latencyMs, d.measured.latencyMs ?? 0),
      memoryBytes: Math.max(seen.memoryBytes, d.measured.residentBytes ?? 0),
    };
  }
  return basis;
}

type RoundFigures = {
  device: string;
  measuredLatencyMs?: number;
  /** Written by earlier planners: always a p95. */
  measuredP95Ms?: number;
  measuredMemoryBytes?: number;
}[];

/** A failed loop's closest approach: the least round latency and memory a round measured. */
export function closestMeasured(
  rounds: readonly { round: number; measured: Record<string, unknown> }[],
): string {
  let latency: [number, number] | undefined;
  let memory: [number, number] | undefined;
  for (const { round, measured } of rounds) {
    const devices = (measured.devices as RoundFigures | undefined) ?? [];
    const perDevice = new Map<string, { latency: number; memory: number }>();
    for (const d of devices) {
      const sum = perDevice.get(d.device) ?? { latency: 0, memory: 0 };
      sum.latency += d.measuredLatencyMs ?? d.measuredP95Ms ?? NaN;
      sum.memory += d.measuredMemoryBytes ?? NaN;
      perDevice.set(d.device, sum);
    }
    // A round is as good as its worst device.
    const worstLatency = Math.max(...[...perDevice.values()].map((v) => v.latency));
    const worstMemory = Math.max(...[...perDevice.values()].map((v) => v.memory));
    if (Number.isFinite(worstLatency) && (!latency || worstLatency < latency[0]))
      latency = [worstLatency, round];
    if (Number.isFinite(worstMemory) && (!memory || worstMemory < memory[0])) memory = [worstMemory, round];
  }
  if (!latency || !memory) return '';
  return (
    `closest measured: latency ${latency[0].toFixed(3)} ms (round ${latency[1]}), ` +
    `memory ${formatBytes(memory[0])} (round ${memory[1]})`
  );
}

/** An infeasible loop's reach on the class's cost model, each figure minimised alone. */
export function tightestDetail(t: TightestFigures | undefined): string {
  if (!t) return '';
  return (
    `tightest on the cost model, each alone and at any accuracy: latency ${t.totalLatencyMs.toFixed(3)} ms, ` +
    `memory ${formatBytes(t.memoryBytes)}, storage ${formatBytes(t.storageBytes)}`
  );
}

/**
 * The (device, model) pairs that have been under pressure for at least `forMs` at `now`: their
 * runtime monitor stepped down or missed a bound, and has not stepped back up since. `events` oldest
 * first. A short spell of load is the ladder's to absorb; one that lasts is the planner's.
 */
export function underPressure(
  events: readonly RuntimeEventRecord[],
  now: number,
  forMs: number,
): { deviceId: string; model: string; since: Date; detail: string }[] {
  const spells = new Map<string, { deviceId: string; model: string; since: Date; detail: string }>();
  for (const e of events) {
    const key = `${e.deviceId}\0${e.model}`;
    if (e.kind === 'ladder-step-up') spells.delete(key);
    else if (!spells.has(key))
      spells.set(key, { deviceId: e.deviceId, model: e.model, since: e.at, detail: e.detail });
  }
  return [...spells.values()].filter((s) => now - s.since.getTime() >= forMs);
}
