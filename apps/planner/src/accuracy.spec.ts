import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ModelBuilder, encodeModel } from '@blinknet/onnx';
import { modelVersionBySha256, type OpenedDatabase, openDatabase } from '@blinknet/store';
import { AccuracyWorker } from './accuracy';
import { storeUpload } from './catalog';

describe('AccuracyWorker', () => {
  let dir: string;
  let db: OpenedDatabase;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'blinknet-accuracy-'));
    db = await openDatabase(join(dir, 'planner.db'));
  });

  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets aside the options its data cannot build and scores the rest of the ladder', async () => {
    // A 600-wide fully connected layer without a data set: its data-aware ranks fit on 64 random
    // inputs, so rank 300 cannot be fitted; plain low rank, pruning and int8 can.
    const builder = new ModelBuilder({ name: 'wide' });
    const hidden = builder.node('Relu', 'relu', [builder.gemm(builder.input('x', [1, 600]), 'fc1', 600)]);
    builder.output(builder.gemm(hidden, 'fc2', 10));
    const bytes = Buffer.from(encodeModel(builder.build()));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await storeUpload(
      db,
      dir,
      { name: 'wide', datasetId: '', sha256, bytes: bytes.length, inputsBytes: 0 },
      bytes,
    );

    const worker = new AccuracyWorker(db, dir, pino({ level: 'silent' }), { activationImages: 64 });
    worker.enqueue(sha256);
    await worker.idle();

    const version = (await modelVersionBySha256(db.prisma, sha256))!;
    expect(version.accuracyState).toBe('ready');
    const unavailable = version.options.filter((o) => o.unavailable !== undefined);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const o of unavailable) {
      expect(o.option).toMatch(/^lowrank-data:r=(\d+)$/);
      expect(Number(o.option.split('=')[1])).toBeGreaterThan(64);
      expect(o.unavailable).toMatch(/calibration samples/);
      expect(o.accuracy).toBeUndefined();
    }
    const scored = version.options.filter((o) => o.unavailable === undefined);
    expect(scored.some((o) => o.option.startsWith('lowrank-data:'))).toBe(true);
    for (const o of scored) expect(o.accuracy).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
