/**
 * How a device measures a deployed model before it says a bound holds: latency over several
 * back-to-back windows (the median window's p95 judges), the resident memory the model adds (in a
 * child process), and its weight bytes. The agent verifies every deployment with it; the evaluation
 * bench measures every plan with it, so that both report the same figure.
 */
import { readFileSync } from 'node:fs';
import { latencyAt } from '@blinknet/core';
import { decodeModel, weightBytes } from '@blinknet/onnx';
import {
  type LatencyMeasurement,
  measureLatency,
  measureModelMemory,
  medianWindow,
  type MemoryMeasurement,
  ModelSession,
} from '@blinknet/runtime';

/** Runs on which a latency bound is verified on the device, at least (in each window). */
export const VERIFY_RUNS = 200;

export interface VerifySettings {
  readonly threads: number;
  /** Runs per window, at least. @default VERIFY_RUNS */
  readonly runs?: number;
  /**
   * ...for at least this long (ms): 200 runs of a sub-millisecond model take a fraction of a
   * scheduler hiccup, which alone would then decide the p95. @default 1000
   */
  readonly windowMs?: number;
  /**
   * Windows timed back to back (odd). On a small shared device the p95 of a sub-millisecond model
   * moves by 10-20% from one second to the next: one window, whether it is the original's or a
   * candidate's, would decide by luck. @default 3
   */
  readonly windows?: number;
  /** Stop a window early past this long (ms), with at least 10 runs: for models of a second a run. */
  readonly maxWindowMs?: number;
  /** The latency bound's percentile (50, 95 or 99), which picks the median window. @default 95 */
  readonly percentile?: number;
  /** Loads measured for memory, each in a fresh process (the most judges). @default MEMORY_SAMPLES */
  readonly memorySamples?: number;
}

export interface Verified {
  /** The median window (by the figure at the bound's percentile): the one that judges. */
  readonly latency: LatencyMeasurement;
  readonly windows: readonly LatencyMeasurement[];
  readonly memory: MemoryMeasurement;
  readonly weightBytes: number;
}

/** Untimed running before the first window. */
const WARMUP_MS = 500;

/** Measures the model at `path` as a device verifies it. */
export async function verifyModel(path: string, settings: VerifySettings): Promise<Verified> {
  const session = await ModelSession.create(path, { intraOpThreads: settings.threads });
  const dims = session.inputDims[0].map((d) => (d > 0 ? d : 1));
  const inputName = session.inputNames[0];
  const windows: LatencyMeasurement[] = [];
  try {
    const count = dims.reduce((a, b) => a * b, 1);
    const input = { data: Float32Array.from({ length: count }, (_, i) => Math.sin(i)), dims };
    const feeds = { [inputName]: input };
    const timing = {
      timedRuns: settings.runs ?? VERIFY_RUNS,
      minTimedMs: settings.windowMs ?? 1_000,
      maxTimedRuns: 100_000,
      maxTimedMs: settings.maxWindowMs,
    };
    // Half a second of warm-up first: right after a session is built, background GC and compiler
    // threads slow the first runs several-fold on a small machine (see the profiler).
    windows.push(await measureLatency(session, feeds, { ...timing, minWarmupMs: WARMUP_MS }));
    while (windows.length < (settings.windows ?? 3))
      windows.push(await measureLatency(session, feeds, timing));
  } finally {
    await session.dispose();
  }
  const memory = await measureModelMemory(
    path,
    { [inputName]: dims },
    { intraOpThreads: settings.threads },
    { samples: settings.memorySamples },
  );
  return {
    latency: medianWindow(windows, (w) => latencyAt(w.stats, settings.percentile ?? 95)),
    windows,
    memory,
    weightBytes: weightBytes(decodeModel(readFileSync(path), path)),
  };
}
