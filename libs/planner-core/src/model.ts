/**
 * The problem checked and flattened once for every solver: one global list of layers, the active bounds
 * with the margin applied, and the one function that decides whether a plan meets them.
 */
import { InvalidArgumentError } from '@blinknet/core';
import type {
  FeasiblePlan,
  Figures,
  InfeasiblePlan,
  OptionChoice,
  PlanProblem,
  SolveMethod,
  TightestFigures,
} from './types';

/** A plan meets a bound when its figure is at most bound x (1 + RELATIVE_TOLERANCE). */
export const RELATIVE_TOLERANCE = 1e-9;

export type Resource = 'latencyMs' | 'memoryBytes' | 'storageBytes';
export const RESOURCES: readonly Resource[] = ['latencyMs', 'memoryBytes', 'storageBytes'];

export interface CompiledModel {
  readonly name: string;
  readonly weight: number;
  readonly fixed: { readonly latencyMs: number; readonly memoryBytes: number; readonly storageBytes: number };
  /** Global index of its first layer; its layers are [first, first + count). */
  readonly first: number;
  readonly count: number;
}

export interface CompiledLayer {
  readonly model: number;
  readonly name: string;
  readonly options: readonly OptionChoice[];
}

/** One active bound, the latency margin already applied. */
export interface Bound {
  /** 'latency:<model>', 'total-latency', 'memory' or 'storage'. */
  readonly id: string;
  readonly resource: Resource;
  /** The model it applies to, or -1 for the sum over models. */
  readonly model: number;
  /** margin x bound for latency bounds, the bound otherwise. */
  readonly limit: number;
}

export interface Compiled {
  readonly problem: PlanProblem;
  readonly margin: number;
  readonly models: readonly CompiledModel[];
  readonly layers: readonly CompiledLayer[];
  readonly bounds: readonly Bound[];
}

/** The most a figure may reach under `limit`. */
export function allowance(limit: number): number {
  return limit + limit * RELATIVE_TOLERANCE;
}

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw new InvalidArgumentError(field, message);
}

const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function checkBound(value: number | undefined, field: string): void {
  if (value !== undefined) check(isPositive(value), field, `must be a finite number > 0, got ${value}`);
}

/**
 * Validates the problem and flattens it.
 * @throws InvalidArgumentError naming the field: bounds that are not finite and > 0, a margin outside
 *   (0, 1], negative or non-finite costs, losses or weights, a layer without options, empty or
 *   duplicate model, layer or option names
 */
export function compile(problem: PlanProblem): Compiled {
  check(typeof problem === 'object' && problem !== null, 'problem', 'must be an object');
  check(Array.isArray(problem.models) && problem.models.length > 0, 'models', 'must be a non-empty array');
  checkBound(problem.totalLatencyBoundMs, 'totalLatencyBoundMs');
  checkBound(problem.memoryBoundBytes, 'memoryBoundBytes');
  checkBound(problem.storageBoundBytes, 'storageBoundBytes');
  const margin = problem.latencyMargin ?? 1;
  check(
    typeof margin === 'number' && margin > 0 && margin <= 1,
    'latencyMargin',
    `must be in (0, 1], got ${margin}`,
  );

  const models: CompiledModel[] = [];
  const layers: CompiledLayer[] = [];
  const bounds: Bound[] = [];
  const modelNames = new Set<string>();
  problem.models.forEach((m, mi) => {
    const at = `models[${mi}]`;
    check(typeof m.model === 'string' && m.model.length > 0, `${at}.model`, 'must be a non-empty string');
    check(!modelNames.has(m.model), `${at}.model`, `duplicate model '${m.model}'`);
    modelNames.add(m.model);
    checkBound(m.latencyBoundMs, `${at}.latencyBoundMs`);
    const weight = m.lossWeight ?? 1;
    check(isNonNegative(weight), `${at}.lossWeight`, `must be a finite number >= 0, got ${weight}`);
    check(typeof m.fixed === 'object' && m.fixed !== null, `${at}.fixed`, 'must be an object');
    for (const r of RESOURCES) {
      check(isNonNegative(m.fixed[r]), `${at}.fixed.${r}`, `must be a finite number >= 0, got ${m.fixed[r]}`);
    }
    check(Array.isArray(m.layers), `${at}.layers`, 'must be an array');
    const layerNames = new Set<string>();
    m.layers.forEach((l, li) => {
      const lat = `${at}.layers[${li}]`;
      check(typeof l.layer === 'string' && l.layer.length > 0, `${lat}.layer`, 'must be a non-empty string');
      check(!layerNames.has(l.layer), `${lat}.layer`, `duplicate layer '${l.layer}' in model '${m.model}'`);
      layerNames.add(l.layer);
      check(
        Array.isArray(l.options) && l.options.length > 0,
        `${lat}.options`,
        `layer '${l.layer}' of model '${m.model}' has no options`,
      );
      const optionNames = new Set<string>();
      l.options.forEach((o, oi) => {
        const oat = `${lat}.options[${oi}]`;
        check(
          typeof o.option === 'string' && o.option.length > 0,
          `${oat}.option`,
          'must be a non-empty string',
        );
        check(!optionNames.has(o.option), `${oat}.option`, `duplicate option '${o.option}'`);
        optionNames.add(o.option);
        for (const key of [...RESOURCES, 'loss'] as const) {
          check(isNonNegative(o[key]), `${oat}.${key}`, `must be a finite number >= 0, got ${o[key]}`);
        }
      });
      layers.push({ model: mi, name: l.layer, options: l.options });
    });
    models.push({
      name: m.model,
      weight,
      fixed: m.fixed,
      first: layers.length - m.layers.length,
      count: m.layers.length,
    });
    if (m.latencyBoundMs !== undefined) {
      bounds.push({
        id: `latency:${m.model}`,
        resource: 'latencyMs',
        model: mi,
        limit: margin * m.latencyBoundMs,
      });
    }
  });
  if (problem.totalLatencyBoundMs !== undefined) {
    bounds.push({
      id: 'total-latency',
      resource: 'latencyMs',
      model: -1,
      limit: margin * problem.totalLatencyBoundMs,
    });
  }
  if (problem.memoryBoundBytes !== undefined) {
    bounds.push({ id: 'memory', resource: 'memoryBytes', model: -1, limit: problem.memoryBoundBytes });
  }
  if (problem.storageBoundBytes !== undefined) {
    bounds.push({ id: 'storage', resource: 'storageBytes', model: -1, limit: problem.storageBoundBytes });
  }
  return { problem, margin, models, layers, bounds };
}

/** The option index of every global layer. */
export type Pick = ArrayLike<number>;

export interface Evaluation {
  readonly perModel: readonly Figures[];
  readonly totals: Figures;
  readonly objective: number;
}

export function evaluate(c: Compiled, pick: Pick): Evaluation {
  const perModel = c.models.map((m) => {
    let latencyMs = m.fixed.latencyMs;
    let memoryBytes = m.fixed.memoryBytes;
    let storageBytes = m.fixed.storageBytes;
    let loss = 0;
    for (let g = m.first; g < m.first + m.count; g++) {
      const o = c.layers[g].options[pick[g]];
      latencyMs += o.latencyMs;
      memoryBytes += o.memoryBytes;
      storageBytes += o.storageBytes;
      loss += o.loss;
    }
    return { latencyMs, memoryBytes, storageBytes, loss };
  });
  const totals = { latencyMs: 0, memoryBytes: 0, storageBytes: 0, loss: 0 };
  let objective = 0;
  perModel.forEach((f, mi) => {
    totals.latencyMs += f.latencyMs;
    totals.memoryBytes += f.memoryBytes;
    totals.storageBytes += f.storageBytes;
    totals.loss += f.loss;
    objective += c.models[mi].weight * f.loss;
  });
  return { perModel, totals, objective };
}

/** The figure a bound constrains. */
export function boundValue(bound: Bound, e: Evaluation): number {
  return bound.model < 0 ? e.totals[bound.resource] : e.perModel[bound.model][bound.resource];
}

/** The ids of the bounds the plan misses (empty when it meets them all). */
export function violations(c: Compiled, e: Evaluation): string[] {
  return c.bounds.filter((b) => boundValue(b, e) > allowance(b.limit)).map((b) => b.id);
}

/** Each figure minimised alone. */
export function tightest(c: Compiled): TightestFigures {
  const perModelLatencyMs: Record<string, number> = {};
  let totalLatencyMs = 0;
  let memoryBytes = 0;
  let storageBytes = 0;
  for (const m of c.models) {
    let latency = m.fixed.latencyMs;
    let memory = m.fixed.memoryBytes;
    let storage = m.fixed.storageBytes;
    for (let g = m.first; g < m.first + m.count; g++) {
      const options = c.layers[g].options;
      latency += options.reduce((v, o) => (o.latencyMs < v ? o.latencyMs : v), Infinity);
      memory += options.reduce((v, o) => (o.memoryBytes < v ? o.memoryBytes : v), Infinity);
      storage += options.reduce((v, o) => (o.storageBytes < v ? o.storageBytes : v), Infinity);
    }
    perModelLatencyMs[m.name] = latency;
    totalLatencyMs += latency;
    memoryBytes += memory;
    storageBytes += storage;
  }
  return { perModelLatencyMs, totalLatencyMs, memoryBytes, storageBytes };
}

/** The bounds that even their tightest figure misses. */
export function unreachableAlone(c: Compiled, t: TightestFigures): string[] {
  return c.bounds
    .filter((b) => {
      const value =
        b.resource === 'latencyMs'
          ? b.model < 0
            ? t.totalLatencyMs
            : t.perModelLatencyMs[c.models[b.model].name]
          : b.resource === 'memoryBytes'
            ? t.memoryBytes
            : t.storageBytes;
      return value > allowance(b.limit);
    })
    .map((b) => b.id);
}

/** The plan as a FeasiblePlan, or null when it misses a bound. */
export function feasiblePlan(c: Compiled, pick: Pick, method: SolveMethod): FeasiblePlan | null {
  const e = evaluate(c, pick);
  if (violations(c, e).length > 0) return null;
  const choices: Record<string, Record<string, string>> = {};
  const perModel: Record<string, Figures> = {};
  c.models.forEach((m, mi) => {
    const chosen: Record<string, string> = {};
    for (let g = m.first; g < m.first + m.count; g++)
      chosen[c.layers[g].name] = c.layers[g].options[pick[g]].option;
    choices[m.name] = chosen;
    perModel[m.name] = e.perModel[mi];
  });
  return { feasible: true, method, choices, objective: e.objective, perModel, totals: e.totals };
}

/**
 * The infeasible result: `unreachable` defaults to the bounds unreachable alone, or ['joint'] when
 * there are none.
 */
export function infeasiblePlan(
  c: Compiled,
  method: SolveMethod,
  unreachable?: readonly string[],
): InfeasiblePlan {
  const t = tightest(c);
  const alone = unreachable ?? unreachableAlone(c, t);
  return { feasible: false, method, unreachable: alone.length > 0 ? alone : ['joint'], tightest: t };
}

/** Every layer's option index for a plan given as model -> layer -> option (for tests and callers). */
export function pickOf(c: Compiled, choices: FeasiblePlan['choices']): Int32Array {
  const pick = new Int32Array(c.layers.length);
  c.layers.forEach((l, g) => {
    const option = choices[c.models[l.model].name]?.[l.name];
    pick[g] = l.options.findIndex((o) => o.option === option);
  });
  return pick;
}
