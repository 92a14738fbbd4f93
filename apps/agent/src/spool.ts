import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '@blinknet/onnx';
import { type DeviceEvent, type Measurement, ReportRequest } from '@blinknet/proto/v1/agent';

export interface SpooledBatch {
  readonly batchId: string;
  readonly path: string;
}

/**
 * Reports waiting for the planner, one file per batch, written atomically before anything is sent:
 * a batch leaves the spool only when the planner has acknowledged storing it, so none is lost across
 * a planner outage or an agent restart (the planner drops repeats by batch id).
 */
export class Spool {
  private sequence = 0;

  constructor(
    readonly dir: string,
    /** Told of every batch moved out of the queue (corrupt, or rejected by the planner), and why. */
    private readonly onSetAside: (path: string, reason: string) => void = () => {},
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** Spools one batch; returns its id. */
  append(measurements: readonly Measurement[], events: readonly DeviceEvent[] = []): string {
    const batchId = randomUUID();
    const bytes = ReportRequest.encode({
      batchId,
      measurements: [...measurements],
      events: [...events],
    }).finish();
    // Names sort in spooling order: time, then a per-process sequence.
    const name = `${Date.now().toString().padStart(15, '0')}-${String(this.sequence++).padStart(6, '0')}-${batchId}.pb`;
    writeFileAtomic(join(this.dir, name), bytes);
    return batchId;
  }

  /** Spooled batches, oldest first. */
  pending(): SpooledBatch[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.pb'))
      .sort()
      .map((f) => ({ batchId: f.slice(23, -3), path: join(this.dir, f) }));
  }

  /** Reads a batch; a file that does not decode is moved aside to `corrupt/` and reported. */
  read(batch: SpooledBatch): ReportRequest | undefined {
    try {
      const decoded = ReportRequest.decode(readFileSync(batch.path));
      if (decoded.batchId !== batch.batchId) throw new Error(`holds batch ${decoded.batchId}`);
      return decoded;
    } catch (error) {
      this.moveAside(batch, 'corrupt');
      this.onSetAside(batch.path, (error as Error).message);
      return undefined;
    }
  }

  /** A batch the planner rejected for good: kept in `rejected/` (with the reason) for an operator. */
  setAside(batch: SpooledBatch, reason: string): void {
    const path = this.moveAside(batch, 'rejected');
    writeFileAtomic(`${path}.reason.txt`, Buffer.from(`${reason}\n`));
    this.onSetAside(batch.path, reason);
  }

  private moveAside(batch: SpooledBatch, folder: 'corrupt' | 'rejected'): string {
    mkdirSync(join(this.dir, folder), { recursive: true });
    const target = join(this.dir, folder, basename(batch.path));
    renameSync(batch.path, target);
    return target;
  }

  remove(batch: SpooledBatch): void {
    rmSync(batch.path, { force: true });
  }
}
