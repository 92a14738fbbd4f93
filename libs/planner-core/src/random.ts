/**
 * Seeded random problems for tests and benchmarks: `uniformProblem` draws every figure independently
 * (hard for the solvers: no structure), `realisticProblem` draws options the way approximation options
 * behave (cheaper options lose more accuracy, memory and storage follow the weights).
 */
import type { LayerChoices, ModelProblem, OptionChoice, PlanProblem } from './types';

// Global lookups are slow inside Jest's vm context: bind them once.
const { exp, floor, imul, log, min, round } = Math;

export type Rng = () => number;

/** mulberry32: a small, fast, seeded PRNG with values in [0, 1). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();
const int = (rng: Rng, lo: number, hi: number): number => lo + floor((hi - lo + 1) * rng());

export interface Shape {
  readonly models: number;
  readonly layers: readonly [number, number];
  readonly options: readonly [number, number];
}

/** Which bounds a random problem gets; each listed one is drawn at `fraction` x its unapproximated figure. */
export interface BoundDraw {
  readonly perModelLatency?: boolean;
  readonly totalLatency?: boolean;
  readonly memory?: boolean;
  readonly storage?: boolean;
  /** Range of bound / unapproximated figure. */
  readonly fraction: readonly [number, number];
}

function withBounds(
  rng: Rng,
  models: Omit<ModelProblem, 'latencyBoundMs'>[],
  draw: BoundDraw,
  exact: (l: LayerChoices) => OptionChoice,
): PlanProblem {
  const figure = (
    m: Omit<ModelProblem, 'latencyBoundMs'>,
    key: 'latencyMs' | 'memoryBytes' | 'storageBytes',
  ) => m.layers.reduce((s, l) => s + exact(l)[key], m.fixed[key]);
  const f = () => between(rng, draw.fraction[0], draw.fraction[1]);
  const sum = (key: 'latencyMs' | 'memoryBytes' | 'storageBytes') =>
    models.reduce((s, m) => s + figure(m, key), 0);
  return {
    models: models.map((m) =>
      draw.perModelLatency ? { ...m, latencyBoundMs: f() * figure(m, 'latencyMs') } : m,
    ),
    totalLatencyBoundMs: draw.totalLatency ? f() * sum('latencyMs') : undefined,
    memoryBoundBytes: draw.memory ? f() * sum('memoryBytes') : undefined,
    storageBoundBytes: draw.storage ? f() * sum('storageBytes') : undefined,
  };
}

/** Every figure uniform and independent; option 0 is 'exact' with loss 0. */
export function uniformProblem(rng: Rng, shape: Shape, draw: BoundDraw): PlanProblem {
  const models = Array.from({ length: shape.models }, (_, m) => ({
    model: `m${m}`,
    lossWeight: rng() < 0.3 ? between(rng, 0.5, 2) : undefined,
    fixed: {
      latencyMs: between(rng, 0, 2),
      memoryBytes: between(rng, 0, 1e6),
      storageBytes: between(rng, 0, 1e5),
    },
    layers: Array.from({ length: int(rng, shape.layers[0], shape.layers[1]) }, (_, l) => ({
      layer: `l${l}`,
      options: Array.from({ length: int(rng, shape.options[0], shape.options[1]) }, (_, o) => ({
        option: o === 0 ? 'exact' : `opt${o}`,
        latencyMs: between(rng, 0.05, 5),
        memoryBytes: round(between(rng, 1e4, 1e6)),
        storageBytes: round(between(rng, 1e4, 1e6)),
        loss: o === 0 ? 0 : between(rng, 0, 5),
      })),
    })),
  }));
  return withBounds(rng, models, draw, (l) => l.options[0]);
}

/**
 * Options as approximations behave: 'exact' (loss 0) plus low-rank, pruned and int8 variants whose
 * latency, memory and storage fall with their strength while their loss grows, with noise. Latencies
 * 0.05-5 ms per exact layer, losses 0-5 points.
 */
export function realisticProblem(rng: Rng, shape: Shape, draw: BoundDraw): PlanProblem {
  const models = Array.from({ length: shape.models }, (_, m) => {
    const layers: LayerChoices[] = Array.from(
      { length: int(rng, shape.layers[0], shape.layers[1]) },
      (_, l) => {
        const latency = exp(between(rng, log(0.05), log(5)));
        const weights = round(exp(between(rng, log(1e4), log(1e7))));
        const sensitivity = between(rng, 0.2, 1);
        const options: OptionChoice[] = [
          { option: 'exact', latencyMs: latency, memoryBytes: weights, storageBytes: weights + 64, loss: 0 },
        ];
        const count = int(rng, shape.options[0], shape.options[1]);
        for (let o = 1; o < count; o++) {
          const kind = rng();
          const s = between(rng, 0.1, 0.95);
          const noise = () => between(rng, 0.9, 1.1);
          let latencyMs: number;
          let memoryBytes: number;
          let loss: number;
          let option: string;
          if (kind < 0.5) {
            option = `lowrank:r=${o}`;
            latencyMs = latency * (1 - 0.85 * s) * noise();
            memoryBytes = weights * (1 - 0.9 * s);
            loss = 5 * sensitivity * s * s * noise();
          } else if (kind < 0.85) {
            option = `prune:keep=${o}`;
            latencyMs = latency * (1 - 0.7 * s) * noise();
            memoryBytes = weights * (1 - 0.7 * s);
            loss = 5 * sensitivity * s ** 1.5 * noise();
          } else {
            option = `int8:${o}`;
            latencyMs = latency * between(rng, 0.6, 1.05);
            memoryBytes = weights * 0.25;
            loss = between(rng, 0, 0.5) * sensitivity;
          }
          memoryBytes = round(memoryBytes);
          options.push({
            option,
            latencyMs,
            memoryBytes,
            storageBytes: memoryBytes + 64,
            loss: min(5, loss),
          });
        }
        return { layer: `layer${l}`, options };
      },
    );
    const latency = layers.reduce((s, l) => s + l.options[0].latencyMs, 0);
    const weights = layers.reduce((s, l) => s + l.options[0].memoryBytes, 0);
    return {
      model: `model${m}`,
      fixed: {
        latencyMs: latency * between(rng, 0.05, 0.2),
        memoryBytes: round(weights * between(rng, 0.1, 0.4)),
        storageBytes: 4096,
      },
      layers,
    };
  });
  return withBounds(rng, models, draw, (l) => l.options[0]);
}
