/**
 * `npm run bench:ingest [-- --batches N --per-batch M]`: how fast the planner's store takes device
 * reports — layer-latency measurements in batches as agents send them, each batch one transaction
 * (validated, deduplicated by batch id, options resolved against the ladder) into a real SQLite file
 * through Prisma. Saves tools/bench/results/<date>/ingest.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ingestReport, type MeasurementInput, openDatabase, saveModelVersion } from '@blinknet/store';
import { median, saveResults } from './machine';

const { values } = parseArgs({
  options: {
    batches: { type: 'string' },
    'per-batch': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run bench:ingest -- [--batches N (default 200)] [--per-batch M (default 100)]');
  process.exit(0);
}
const batches = Number(values.batches ?? 200);
const perBatch = Number(values['per-batch'] ?? 100);
const SHA = '0f'.repeat(32);
const OPTIONS = ['exact', 'lowrank:r=4', 'lowrank:r=8', 'prune:keep=0.5', 'int8:storage', 'int8:compute'];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'blinknet-bench-ingest-'));
  const db = await openDatabase(join(dir, 'planner.db'));
  try {
    const cls = await db.prisma.deviceClass.create({ data: { name: 'bench' } });
    const device = await db.prisma.device.create({
      data: { name: 'bench-1', deviceClassId: cls.id, factsJson: '{}', tokenSha256: 'aa'.repeat(32) },
    });
    const layers = Array.from({ length: 20 }, (_, i) => `layer${i}`);
    await saveModelVersion(db.prisma, {
      name: 'bench-model',
      sha256: SHA,
      bytes: 1e6,
      storagePath: 'bench.onnx',
      inputName: 'x',
      inputDims: [1, 3, 32, 32],
      activationPeakBytes: 0,
      otherWeightBytes: 0,
      options: layers.flatMap((layer) =>
        OPTIONS.map((option) => ({ layer, option, weightBytes: 1000, flops: 1e6 })),
      ),
    });
    const measurement = (i: number): MeasurementInput => ({
      kind: 'layer-latency',
      modelSha256: SHA,
      layer: layers[i % layers.length],
      option: OPTIONS[i % OPTIONS.length],
      jobId: 'bench',
      latency: { medianMs: 0.1, p95Ms: 0.12, p99Ms: 0.15, meanMs: 0.11, cv: 0.03, runs: 50 },
      context: { onnxruntimeVersion: '1.30.0', executionProvider: 'cpu', intraOpThreads: 1, batchSize: 1 },
      measuredAt: new Date(),
    });
    const batchSeconds: number[] = [];
    const started = performance.now();
    for (let b = 0; b < batches; b++) {
      const t = performance.now();
      await ingestReport(db, device, {
        batchId: `batch-${b}`,
        measurements: Array.from({ length: perBatch }, (_, i) => measurement(b * perBatch + i)),
        events: [],
      });
      batchSeconds.push((performance.now() - t) / 1000);
    }
    const seconds = (performance.now() - started) / 1000;
    const total = batches * perBatch;
    const stored = await db.prisma.measurement.count();
    const perSecond = total / seconds;
    const medianBatchPerSecond = perBatch / median(batchSeconds);
    console.log(
      `ingested ${stored} measurements (${batches} batches of ${perBatch}) in ${seconds.toFixed(2)} s: ${Math.round(perSecond)} measurements/s overall, ${Math.round(medianBatchPerSecond)}/s at the median batch`,
    );
    console.log(
      `saved ${saveResults('ingest', { batches, perBatch, stored, seconds, perSecond, medianBatchPerSecond })}`,
    );
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
