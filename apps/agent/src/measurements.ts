import { type LatencyFigures, type Measurement, MeasurementKind } from '@blinknet/proto/v1/agent';
import { type MeasurementContext as ProtoContext } from '@blinknet/proto/v1/common';
import {
  type LatencyMeasurement,
  type MeasurementContext,
  type MemoryMeasurement,
  type NodeTiming,
} from '@blinknet/runtime';

/** Which model (and job) a figure is about. */
export interface Subject {
  readonly jobId: string;
  readonly modelSha256: string;
}

function context(c: MeasurementContext): ProtoContext {
  return {
    onnxruntimeVersion: c.onnxruntimeVersion,
    executionProvider: c.executionProvider,
    intraOpThreads: c.intraOpThreads,
    interOpThreads: c.interOpThreads,
    graphOptimizationLevel: c.graphOptimizationLevel,
    warmupRuns: c.warmupRuns,
    timedRuns: c.timedRuns,
    batchSize: c.batchSize,
    runOverheadMs: c.runOverheadMs ?? 0,
  };
}

function figures(m: LatencyMeasurement): LatencyFigures {
  const s = m.stats;
  return { medianMs: s.medianMs, p95Ms: s.p95Ms, p99Ms: s.p99Ms, meanMs: s.meanMs, cv: s.cv, runs: s.runs };
}

/** One (layer, option) timed in isolation. */
export function layerLatency(
  subject: Subject,
  layer: string,
  option: string,
  m: LatencyMeasurement,
): Measurement {
  return {
    ...subject,
    kind: MeasurementKind.MEASUREMENT_KIND_LAYER_LATENCY,
    layer,
    option,
    latency: figures(m),
    memory: undefined,
    context: context(m.context),
    measuredAtUnixMs: Date.now(),
    nodeTimings: [],
  };
}

/** A whole model, end to end (with the profiled run's time per node, when there was one). */
export function modelLatency(
  subject: Subject,
  m: LatencyMeasurement,
  nodes: readonly NodeTiming[] = [],
): Measurement {
  return {
    ...subject,
    kind: MeasurementKind.MEASUREMENT_KIND_MODEL_LATENCY,
    layer: '',
    option: '',
    latency: figures(m),
    memory: undefined,
    context: context(m.context),
    measuredAtUnixMs: Date.now(),
    nodeTimings: nodes.map((n) => ({ ...n })),
  };
}

/** The resident memory a model adds to a process, and its weight and artifact bytes. */
export function modelMemory(
  subject: Subject,
  m: MemoryMeasurement,
  weightBytes: number,
  measurementContext: MeasurementContext,
): Measurement {
  return {
    ...subject,
    kind: MeasurementKind.MEASUREMENT_KIND_MODEL_MEMORY,
    layer: '',
    option: '',
    latency: undefined,
    memory: {
      residentBytes: Math.max(0, m.addedBytes),
      weightBytes,
      artifactBytes: m.artifactBytes,
      arenaEnabled: m.enableCpuMemArena,
      samples: m.samples,
    },
    context: context(measurementContext),
    measuredAtUnixMs: Date.now(),
    nodeTimings: [],
  };
}
