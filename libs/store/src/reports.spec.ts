import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type MeasurementInput,
  type OpenedDatabase,
  openDatabase,
  ingestReport,
  saveModelVersion,
} from './index';

const SHA = 'ab'.repeat(32);
let dir: string;
let db: OpenedDatabase;
let device: { id: string; deviceClassId: string };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blinknet-store-'));
  db = await openDatabase(join(dir, 'planner.db'));
  const cls = await db.prisma.deviceClass.create({ data: { name: 'rpi4' } });
  device = await db.prisma.device.create({
    data: { name: 'pi-01', deviceClassId: cls.id, factsJson: '{}', tokenSha256: 'cd'.repeat(32) },
  });
  await saveModelVersion(db.prisma, {
    name: 'lenet5',
    sha256: SHA,
    bytes: 250_000,
    storagePath: 'models/lenet5.onnx',
    datasetId: 'mnist',
    inputName: 'input',
    inputDims: [1, 1, 32, 32],
    activationPeakBytes: 0,
    otherWeightBytes: 0,
    options: ['exact', 'lowrank:r=2', 'int8:compute'].map((option) => ({
      layer: 'conv1',
      option,
      weightBytes: 624,
      flops: 235_200,
    })),
  });
});

afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const latency = { medianMs: 0.1, p95Ms: 0.12, p99Ms: 0.2, meanMs: 0.11, cv: 0.05, runs: 50 };
const layerLatency = (option: string): MeasurementInput => ({
  kind: 'layer-latency',
  modelSha256: SHA,
  layer: 'conv1',
  option,
  latency,
  context: { intraOpThreads: 1 },
  measuredAt: new Date(),
});

describe('ingestReport', () => {
  it('stores a batch once: a repeat of its id writes nothing', async () => {
    const report = {
      batchId: 'b1',
      measurements: [
        layerLatency('exact'),
        layerLatency('lowrank:r=2'),
        {
          kind: 'model-memory' as const,
          modelSha256: SHA,
          memory: { residentBytes: 3e9, weightBytes: 250_000, artifactBytes: 250_000 },
          context: {},
          measuredAt: new Date(),
        },
      ],
      events: [
        { id: 'e1', kind: 'ladder-step-down' as const, model: 'lenet5', detail: 'p95 over', at: new Date() },
      ],
    };
    expect(ingestReport(db, device, report)).toEqual({
      stored: true,
      measurements: 3,
      events: 1,
    });
    expect(ingestReport(db, device, report)).toEqual({
      stored: false,
      measurements: 0,
      events: 0,
    });
    expect(await db.prisma.measurement.count()).toBe(3);
    // Byte counts beyond 32 bits survive.
    const memory = await db.prisma.measurement.findFirst({ where: { kind: 'model-memory' } });
    expect(memory!.residentBytes).toBe(3_000_000_000n);
    // The same event resent in a new batch is stored once.
    ingestReport(db, device, { batchId: 'b2', measurements: [], events: report.events });
    expect(await db.prisma.event.count()).toBe(1);
  });

  it('an option outside the ladder rejects the whole batch, naming it; nothing is written', async () => {
    const report = {
      batchId: 'b3',
      measurements: [layerLatency('exact'), layerLatency('prune:keep=0.1')],
      events: [],
    };
    expect(() => ingestReport(db, device, report)).toThrow(/no option 'prune:keep=0.1' for layer 'conv1'/);
    expect(await db.prisma.measurement.count()).toBe(0);
    expect(await db.prisma.reportBatch.count()).toBe(0);
    const unknownModel = { ...layerLatency('exact'), modelSha256: 'ef'.repeat(32) };
    expect(() =>
      ingestReport(db, device, { batchId: 'b4', measurements: [unknownModel], events: [] }),
    ).toThrow(/no uploaded model or artifact has sha256 efef/);
  });

  it('refuses malformed figures before touching the database', async () => {
    const bad = { ...layerLatency('exact'), latency: { ...latency, medianMs: -1 } };
    expect(() => ingestReport(db, device, { batchId: 'b5', measurements: [bad], events: [] })).toThrow(
      /measurements\[0\].*non-negative/,
    );
    const noFigures = { ...layerLatency('exact'), latency: undefined };
    expect(() => ingestReport(db, device, { batchId: 'b6', measurements: [noFigures], events: [] })).toThrow(
      /carries latency figures/,
    );
  });
});

describe('saveModelVersion', () => {
  it('is idempotent by sha256', async () => {
    const again = await saveModelVersion(db.prisma, {
      name: 'lenet5',
      sha256: SHA,
      bytes: 1,
      storagePath: 'x',
      inputName: 'input',
      inputDims: [1],
      activationPeakBytes: 0,
      otherWeightBytes: 0,
      options: [],
    });
    expect(again.created).toBe(false);
    expect(await db.prisma.layerOption.count()).toBe(3);
  });
});
