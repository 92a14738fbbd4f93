import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@blinknet/core';
import { InferenceError, SessionCreateError } from './errors';
import { type NodeTiming, nodeTimings } from './node-profile';
import { ort } from './ort';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Intra-op threads; 0 lets onnxruntime choose (one per core). @default 0 */
  readonly intraOpThreads?: number;
  /** Inter-op threads. @default 1 */
  readonly interOpThreads?: number;
  /** @default 'all' */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /** onnxruntime's CPU memory arena (faster repeated runs, more resident memory). @default true */
  readonly enableCpuMemArena?: boolean;
  /** Pre-planned activation buffers. @default true */
  readonly enableMemPattern?: boolean;
}

export type SessionOptionsWithDefaults = Required<SessionOptions>;

export function withSessionDefaults(options: SessionOptions = {}): SessionOptionsWithDefaults {
  const resolved = {
    intraOpThreads: 0,
    interOpThreads: 1,
    graphOptimizationLevel: 'all' as const,
    enableCpuMemArena: true,
    enableMemPattern: true,
    ...options,
  };
  for (const key of ['intraOpThreads', 'interOpThreads'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 0) {
      throw new InvalidArgumentError(key, `must be a non-negative integer, got ${resolved[key]}`);
    }
  }
  return resolved;
}

/**
 * The onnxruntime-node options for BlinkNet's session options (CPU execution provider).
 *
 * QDQ handling is off: with it on (onnxruntime's default), constant folding keeps every
 * DequantizeLinear, so int8:storage weights were dequantised on every run (measured, 1 thread:
 * VGG-style with every layer int8:storage 0.605 ms against 0.250 exact; CIFAR-10-quick 0.27 vs 0.17);
 * off, they are folded into float weights at load (0.253 and 0.168 ms), which the cost model assumes.
 * BlinkNet's int8:compute uses integer ops (ConvInteger, MatMulInteger), not QDQ: unchanged (0.53-0.55
 * ms either way). A model uploaded in QDQ form runs its float ops instead of fused integer kernels;
 * it is profiled and verified that way too.
 */
export function toOrtSessionOptions(resolved: SessionOptionsWithDefaults): InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    extra: { session: { disable_quant_qdq: '1' } },
    graphOptimizationLevel: resolved.graphOptimizationLevel,
    intraOpNumThreads: resolved.intraOpThreads,
    interOpNumThreads: resolved.interOpThreads,
    enableCpuMemArena: resolved.enableCpuMemArena,
    enableMemPattern: resolved.enableMemPattern,
    logSeverityLevel: 3,
  };
}

/** Float32 input or output: data plus dims. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** The onnxruntime-node version this process runs (read without loading the native library). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const ONNXRUNTIME_VERSION: string = (require('onnxruntime-node/package.json') as { version: string })
  .version;

/**
 * One onnxruntime inference session on the CPU execution provider. The only wrapper over
 * onnxruntime-node in BlinkNet: create with `ModelSession.create`, run, then `dispose()`.
 */
export class ModelSession {
  readonly #session: InferenceSession;

  private constructor(
    session: InferenceSession,
    readonly source: string,
    readonly options: SessionOptionsWithDefaults,
  ) {
    this.#session = session;
  }

  /** Loads a model from a file path or from bytes; `source` names it in errors. */
  static async create(
    model: string | Uint8Array,
    options: SessionOptions = {},
    source?: string,
  ): Promise<ModelSession> {
    const resolved = withSessionDefaults(options);
    const label = source ?? (typeof model === 'string' ? model : 'model bytes');
    const ortOptions = toOrtSessionOptions(resolved);
    try {
      const session =
        typeof model === 'string'
          ? await ort().InferenceSession.create(model, ortOptions)
          : await ort().InferenceSession.create(model, ortOptions);
      return new ModelSession(session, label, resolved);
    } catch (cause) {
      throw new SessionCreateError(label, (cause as Error).message, { cause });
    }
  }

  get inputNames(): readonly string[] {
    return this.#session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.#session.outputNames;
  }

  /** Declared shape of each input, in `inputNames` order; a symbolic dimension (a batch size) is -1. */
  get inputDims(): readonly (readonly number[])[] {
    return this.#session.inputMetadata.map((m) =>
      m.isTensor ? m.shape.map((d) => (typeof d === 'number' ? d : -1)) : [],
    );
  }

  /** Runs the model on float32 inputs (by input name) and returns every float32 output by name. */
  async run(inputs: Readonly<Record<string, FloatTensor>>): Promise<Record<string, FloatTensor>> {
    const feeds: Record<string, OrtTensor> = {};
    for (const name of this.inputNames) {
      const input = inputs[name];
      if (!input) throw new InferenceError(this.source, `missing input '${name}'`);
      const expected = input.dims.reduce((a, b) => a * b, 1);
      if (input.data.length !== expected) {
        throw new InferenceError(
          this.source,
          `input '${name}' has ${input.data.length} values, dims [${input.dims}] need ${expected}`,
        );
      }
      feeds[name] = new (ort().Tensor)('float32', input.data, input.dims);
    }
    let results: InferenceSession.ReturnType;
    try {
      results = await this.#session.run(feeds);
    } catch (cause) {
      throw new InferenceError(this.source, `run failed: ${(cause as Error).message}`, { cause });
    }
    const outputs: Record<string, FloatTensor> = {};
    for (const [name, tensor] of Object.entries(results)) {
      if (tensor.type !== 'float32')
        throw new InferenceError(this.source, `output '${name}' is ${tensor.type}, not float32`);
      outputs[name] = { data: tensor.data as Float32Array, dims: [...tensor.dims] };
    }
    return outputs;
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }

  /**
   * Runs a model `runs` times with onnxruntime's profiler ON and returns the time per node. The
   * profiler inflates latency: this attributes time for reports, it never measures a bound.
   */
  static async profileNodes(
    model: string | Uint8Array,
    inputs: Readonly<Record<string, FloatTensor>>,
    options: SessionOptions = {},
    runs = 20,
  ): Promise<NodeTiming[]> {
    const dir = mkdtempSync(join(tmpdir(), 'blinknet-ort-profile-'));
    try {
      const ortOptions = {
        ...toOrtSessionOptions(withSessionDefaults(options)),
        enableProfiling: true,
        profileFilePrefix: join(dir, 'ort'),
      };
      const label = typeof model === 'string' ? model : 'model bytes';
      let session: InferenceSession;
      try {
        session =
          typeof model === 'string'
            ? await ort().InferenceSession.create(model, ortOptions)
            : await ort().InferenceSession.create(model, ortOptions);
      } catch (cause) {
        throw new SessionCreateError(label, (cause as Error).message, { cause });
      }
      const profiled = new ModelSession(session, label, withSessionDefaults(options));
      try {
        for (let i = 0; i < runs; i++) await profiled.run(inputs);
        session.endProfiling();
      } finally {
        await profiled.dispose();
      }
      const file = readdirSync(dir).find((f) => f.endsWith('.json'));
      if (!file) throw new InferenceError(label, 'onnxruntime wrote no profile');
      return nodeTimings(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
