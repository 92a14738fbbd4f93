import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ONNXRUNTIME_VERSION } from '@blinknet/runtime';

/** The facts every saved figure carries: which machine, which software. */
export function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    onnxruntime: ONNXRUNTIME_VERSION,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Saves figures as tools/bench/results/<YYYY-MM-DD>/<name>.json and returns the path. */
export function saveResults(name: string, figures: unknown): string {
  const dir = join(__dirname, 'results', new Date().toISOString().slice(0, 10));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    `${JSON.stringify({ machine: machine(), date: new Date().toISOString(), ...(figures as object) }, null, 2)}\n`,
  );
  return path;
}
