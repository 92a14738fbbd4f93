import { performance } from 'node:perf_hooks';
import { NotFoundError } from '@blinknet/core';
import { type FloatTensor, ModelSession, type SessionOptions } from '@blinknet/runtime';

/** One installed variant of a model's ladder. */
export interface Variant {
  readonly sha256: string;
  readonly path: string;
}

export interface ServedModelInfo {
  readonly model: string;
  readonly sha256: string;
  /** 0 = the plan, higher = a tighter variant. */
  readonly step: number;
  readonly steps: number;
  readonly inputName: string;
  readonly inputDims: readonly number[];
}

export interface InferResult {
  readonly output: FloatTensor;
  readonly sha256: string;
  readonly latencyMs: number;
}

/** A loaded session and the requests running on it; disposed once retired and idle. */
class Slot {
  inflight = 0;
  retired = false;

  constructor(
    readonly variant: Variant,
    readonly step: number,
    readonly session: ModelSession,
  ) {}

  async release(): Promise<void> {
    if (this.retired && this.inflight === 0) await this.session.dispose();
  }
}

interface Served {
  ladder: readonly Variant[];
  slot: Slot;
}

/**
 * The models this device serves, each as a ladder of variants with one loaded at a time. Switching
 * variant is a hot swap: the new session is created first, new requests go to it at once, and the
 * old session is released only after its last in-flight request returns — no request fails.
 */
export class LocalRuntime {
  private readonly models = new Map<string, Served>();
  private readonly switching = new Map<string, Promise<void>>();

  constructor(
    private readonly session: SessionOptions = {},
    /** Called after every successful request with the time spent in onnxruntime. */
    private readonly onInfer: (model: string, latencyMs: number) => void = () => {},
  ) {}

  /** Serves `model` from a new ladder, starting at variant `step` (replacing what served before). */
  async deploy(model: string, ladder: readonly Variant[], step = 0): Promise<void> {
    await this.swap(model, ladder, step);
  }

  /** Moves `model` to another variant of its current ladder. */
  async switchTo(model: string, step: number): Promise<void> {
    await this.swap(model, this.served(model).ladder, step);
  }

  private async swap(model: string, ladder: readonly Variant[], step: number): Promise<void> {
    if (step < 0 || step >= ladder.length) {
      throw new NotFoundError(
        'ladder step',
        `'${model}' has no ladder step ${step} (0..${ladder.length - 1})`,
      );
    }
    // One swap per model at a time, in call order.
    const previous = this.switching.get(model) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        const variant = ladder[step];
        const session = await ModelSession.create(
          variant.path,
          this.session,
          `${model}@${variant.sha256.slice(0, 12)}`,
        );
        const old = this.models.get(model)?.slot;
        this.models.set(model, { ladder, slot: new Slot(variant, step, session) });
        if (old) {
          old.retired = true;
          await old.release();
        }
      });
    this.switching.set(model, next);
    await next;
  }

  async infer(model: string, input: FloatTensor): Promise<InferResult> {
    const slot = this.served(model).slot;
    slot.inflight++;
    try {
      const started = performance.now();
      const outputs = await slot.session.run({ [slot.session.inputNames[0]]: input });
      const latencyMs = performance.now() - started;
      this.onInfer(model, latencyMs);
      return { output: outputs[slot.session.outputNames[0]], sha256: slot.variant.sha256, latencyMs };
    } finally {
      slot.inflight--;
      await slot.release();
    }
  }

  list(): ServedModelInfo[] {
    return [...this.models].map(([model, { ladder, slot }]) => ({
      model,
      sha256: slot.variant.sha256,
      step: slot.step,
      steps: ladder.length,
      inputName: slot.session.inputNames[0],
      inputDims: slot.session.inputDims[0],
    }));
  }

  current(model: string): ServedModelInfo {
    this.served(model);
    return this.list().find((m) => m.model === model)!;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.switching.values());
    for (const { slot } of this.models.values()) {
      slot.retired = true;
      await slot.release();
    }
    this.models.clear();
  }

  private served(model: string): Served {
    const served = this.models.get(model);
    if (!served) {
      throw new NotFoundError(
        'model',
        `model '${model}' is not served here; serving: ${[...this.models.keys()].join(', ') || 'none'}`,
      );
    }
    return served;
  }
}
