import { quantile } from '@blinknet/runtime';

/** A model's bounds as the monitor enforces them (0 or undefined: none). */
export interface MonitoredBounds {
  readonly latencyMs?: number;
  /** Percentile of the latency bound, 0..100. @default 95 */
  readonly latencyPercentile?: number;
  /** Resident bytes the model may add to the process. */
  readonly memoryBytes?: number;
}

/** A step down forced by memory: the served models together hold more than their bounds allow. */
export interface MemoryDecision {
  readonly model: string;
  readonly observedBytes: number;
  readonly boundBytes: number;
}

export interface MonitorOptions {
  /** Latencies kept per model (since its last switch). @default 200 */
  readonly windowSize?: number;
  /** No decision before this many samples of the current variant. @default 50 */
  readonly minSamples?: number;
  /** Step back up only while the percentile stays below this fraction of the bound... @default 0.6 */
  readonly slack?: number;
  /** ...for this long. Doubled each time a step up had to be undone, so the ladder does not flap. @default 30000 */
  readonly stepUpAfterMs?: number;
  readonly now?: () => number;
}

export type MonitorDecision =
  | { readonly kind: 'step-down'; readonly observedMs: number; readonly boundMs: number }
  | { readonly kind: 'step-up'; readonly observedMs: number; readonly boundMs: number }
  | { readonly kind: 'violated'; readonly observedMs: number; readonly boundMs: number };

/** The first index of `sorted` whose value is >= `value`. */
function sortedIndex(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface ModelState {
  bounds: MonitoredBounds;
  /** Latencies in arrival order, and the same values sorted. */
  window: number[];
  sorted: number[];
  step: number;
  steps: number;
  slackSince: number | undefined;
  stepUpAfterMs: number;
  lastStepUpAt: number | undefined;
  lastViolationAt: number | undefined;
}

/**
 * Watches each served model's latency in a sliding window against its bound and decides ladder
 * moves: down one variant as soon as the window's percentile exceeds the bound, back up after
 * sustained slack. Pure decision logic: the caller performs the switch and reports it.
 */
export class LadderMonitor {
  private readonly models = new Map<string, ModelState>();
  private readonly windowSize: number;
  private readonly minSamples: number;
  private readonly slack: number;
  private readonly stepUpAfterMs: number;
  private readonly now: () => number;

  constructor(options: MonitorOptions = {}) {
    this.windowSize = options.windowSize ?? 200;
    this.minSamples = options.minSamples ?? 50;
    this.slack = options.slack ?? 0.6;
    this.stepUpAfterMs = options.stepUpAfterMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Starts (or restarts, after a deployment) watching a model at ladder step `step` of `steps`. */
  watch(model: string, bounds: MonitoredBounds, step: number, steps: number): void {
    this.models.set(model, {
      bounds,
      window: [],
      sorted: [],
      step,
      steps,
      slackSince: undefined,
      stepUpAfterMs: this.stepUpAfterMs,
      lastStepUpAt: undefined,
      lastViolationAt: undefined,
    });
  }

  /** Records one request's latency; returns the move to make, if any (at most one per window). */
  record(model: string, latencyMs: number): MonitorDecision | undefined {
    const state = this.models.get(model);
    const bound = state?.bounds.latencyMs;
    if (!state || !bound) return undefined;
    // Called on every served request: the window is kept sorted as well (two binary searches and
    // short moves) rather than sorted again for each decision.
    state.window.push(latencyMs);
    state.sorted.splice(sortedIndex(state.sorted, latencyMs), 0, latencyMs);
    if (state.window.length > this.windowSize) {
      state.sorted.splice(sortedIndex(state.sorted, state.window.shift()!), 1);
    }
    if (state.window.length < this.minSamples) return undefined;
    const observed = quantile(state.sorted, (state.bounds.latencyPercentile || 95) / 100);
    const now = this.now();
    if (observed > bound) {
      state.slackSince = undefined;
      if (state.step + 1 < state.steps) {
        // A step up that did not hold: wait longer before the next one.
        if (state.lastStepUpAt !== undefined && now - state.lastStepUpAt < state.stepUpAfterMs) {
          state.stepUpAfterMs *= 2;
        }
        this.moved(state, state.step + 1);
        return { kind: 'step-down', observedMs: observed, boundMs: bound };
      }
      // Nowhere lower to go: report, once per window.
      if (state.lastViolationAt === undefined || state.window.length >= this.windowSize) {
        state.lastViolationAt = now;
        state.window = [];
        state.sorted = [];
        return { kind: 'violated', observedMs: observed, boundMs: bound };
      }
      return undefined;
    }
    if (state.step > 0 && observed < this.slack * bound) {
      state.slackSince ??= now;
      if (now - state.slackSince >= state.stepUpAfterMs) {
        state.lastStepUpAt = now;
        this.moved(state, state.step - 1);
        return { kind: 'step-up', observedMs: observed, boundMs: bound };
      }
    } else {
      state.slackSince = undefined;
    }
    return undefined;
  }

  /**
   * Checks the resident memory the served models add (process RSS minus the agent's own) against
   * the sum of their memory bounds; over it, the model with the largest bound that can still step
   * down does so. Returns that move, if any.
   */
  checkMemory(addedBytes: number): MemoryDecision | undefined {
    const bounded = [...this.models].filter(([, s]) => (s.bounds.memoryBytes ?? 0) > 0);
    const boundBytes = bounded.reduce((sum, [, s]) => sum + s.bounds.memoryBytes!, 0);
    if (bounded.length === 0 || addedBytes <= boundBytes) return undefined;
    const candidates = bounded
      .filter(([, s]) => s.step + 1 < s.steps)
      .sort(([, a], [, b]) => b.bounds.memoryBytes! - a.bounds.memoryBytes!);
    if (candidates.length === 0) return undefined;
    const [model, state] = candidates[0];
    this.moved(state, state.step + 1);
    return { model, observedBytes: addedBytes, boundBytes };
  }

  private moved(state: ModelState, step: number): void {
    state.step = step;
    state.window = [];
    state.sorted = [];
    state.slackSince = undefined;
  }
}
