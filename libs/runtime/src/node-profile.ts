import { quantile } from './stats';

/** Time one graph node took per run, from onnxruntime's profiler. */
export interface NodeTiming {
  readonly node: string;
  readonly opType: string;
  readonly medianUs: number;
  /** Of the summed node medians. */
  readonly share: number;
}

interface TraceEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string };
}

/**
 * Per-node medians from an onnxruntime profile (Chrome trace JSON): each run emits one
 * `<node>_kernel_time` event per node in category "Node", with its duration in microseconds.
 * Sorted by time, slowest first.
 */
export function nodeTimings(trace: readonly TraceEvent[]): NodeTiming[] {
  const byNode = new Map<string, { opType: string; durations: number[] }>();
  for (const e of trace) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || e.dur === undefined) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const entry = byNode.get(node) ?? { opType: e.args?.op_name ?? '', durations: [] };
    entry.durations.push(e.dur);
    byNode.set(node, entry);
  }
  const medians = [...byNode].map(([node, { opType, durations }]) => ({
    node,
    opType,
    medianUs: quantile(
      durations.sort((a, b) => a - b),
      0.5,
    ),
  }));
  const total = medians.reduce((s, m) => s + m.medianUs, 0);
  return medians
    .map((m) => ({ ...m, share: total > 0 ? m.medianUs / total : 0 }))
    .sort((a, b) => b.medianUs - a.medianUs);
}
