import { cpus, release, totalmem } from 'node:os';
import { ort } from './ort';
import { ONNXRUNTIME_VERSION } from './session';

/** What this device is, as reported to the planner at registration. */
export interface DeviceFacts {
  readonly arch: string;
  readonly cpuModel: string;
  readonly cpuCores: number;
  readonly totalMemoryBytes: number;
  readonly os: string;
  readonly nodeVersion: string;
  readonly onnxruntimeVersion: string;
  /** Execution providers this onnxruntime build offers here, e.g. ["cpu"]. */
  readonly executionProviders: readonly string[];
}

export function deviceFacts(): DeviceFacts {
  const cores = cpus();
  return {
    arch: process.arch,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    cpuCores: cores.length,
    totalMemoryBytes: totalmem(),
    os: `${process.platform} ${release()}`,
    nodeVersion: process.versions.node,
    onnxruntimeVersion: ONNXRUNTIME_VERSION,
    executionProviders: ort()
      .listSupportedBackends()
      .map((b) => b.name),
  };
}
