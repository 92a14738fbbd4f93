import { toError } from '@blinknet/core';
import { type ReportRequest } from '@blinknet/proto/v1/agent';
import { type Spool } from './spool';

export interface ReporterOptions {
  /** Sends batches in one client stream; resolves to the ids stored and the batches rejected for good. */
  readonly send: (batches: readonly ReportRequest[]) => Promise<{
    readonly storedBatchIds: readonly string[];
    readonly rejected: readonly { readonly batchId: string; readonly reason: string }[];
  }>;
  /** First retry delay after a failure, doubled per failure up to maxDelayMs. @default 500 */
  readonly minDelayMs?: number;
  /** @default 30000 */
  readonly maxDelayMs?: number;
  /** Batches per stream. @default 64 */
  readonly maxBatchesPerStream?: number;
  readonly onError?: (error: Error, retryInMs: number) => void;
  readonly onDelivered?: (count: number) => void;
}

/**
 * Drains the spool to the planner: sends what is pending, removes what the planner acknowledged, and
 * after a failure waits with exponential backoff (with jitter, so that a fleet does not reconnect in
 * step) before trying again. `notify()` wakes it when a new batch is spooled.
 */
export class Reporter {
  private running = false;
  private idle = false;
  private dirty = false; // a batch was spooled since the last pass began
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly options: ReporterOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the current attempt; what is not delivered stays spooled. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** A batch was spooled: send it now, unless backing off after a failure. */
  notify(): void {
    this.dirty = true;
    if (this.idle) this.wake?.();
  }

  /** One pass: sends every pending batch once. Returns how many were acknowledged. */
  async drainOnce(): Promise<number> {
    let delivered = 0;
    for (;;) {
      const pending = this.spool.pending().slice(0, this.options.maxBatchesPerStream ?? 64);
      const batches = pending.flatMap((b) => {
        const batch = this.spool.read(b);
        return batch ? [{ spooled: b, batch }] : [];
      });
      if (batches.length === 0) return delivered;
      const response = await this.options.send(batches.map((b) => b.batch));
      const stored = new Set(response.storedBatchIds);
      const rejected = new Map(response.rejected.map((r) => [r.batchId, r.reason]));
      const acked = batches.filter((b) => stored.has(b.spooled.batchId) || rejected.has(b.spooled.batchId));
      for (const b of acked) {
        const reason = rejected.get(b.spooled.batchId);
        if (reason === undefined) this.spool.remove(b.spooled);
        else this.spool.setAside(b.spooled, reason);
      }
      delivered += acked.length;
      this.options.onDelivered?.(acked.length);
      if (acked.length < batches.length) return delivered; // the planner kept some back: retry later
    }
  }

  private async run(): Promise<void> {
    const min = this.options.minDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? 30_000;
    let delay = min;
    while (this.running) {
      let wait = max; // idle: woken by notify() when a batch is spooled
      let idle = true;
      this.dirty = false;
      try {
        await this.drainOnce();
        delay = min;
      } catch (thrown) {
        wait = Math.round(delay * (0.5 + Math.random() / 2));
        idle = false;
        this.options.onError?.(toError(thrown), wait);
        delay = Math.min(max, delay * 2);
      }
      if (!this.running) break;
      if (idle && this.dirty) continue;
      this.idle = idle;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      this.idle = false;
    }
  }
}
