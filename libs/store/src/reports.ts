import { InvalidArgumentError, NotFoundError } from '@blinknet/core';
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { type OpenedDatabase, writerOf } from './database';
import { type ClassMeasurement } from '@blinknet/planner-core';
import { type PrismaClient } from './generated/prisma/client';

/** The states of a deployment, in the order a successful one passes through them. */
export const DEPLOYMENT_STATES = [
  'pending',
  'downloading',
  'verifying',
  'active',
  'failed',
  'rolled-back',
] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

export const MEASUREMENT_KINDS = ['layer-latency', 'model-latency', 'model-memory'] as const;
export type MeasurementKind = (typeof MEASUREMENT_KINDS)[number];

export const EVENT_KINDS = [
  'bound-violated',
  'ladder-step-down',
  'ladder-step-up',
  'deployment-state',
  'artifact-rejected',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One figure a device measured, as the store keeps it (the wire format maps onto this). */
export interface MeasurementInput {
  readonly kind: MeasurementKind;
  /** The ONNX file measured: an uploaded model version. */
  readonly modelSha256: string;
  /** Layer latencies only: the layer and option, which must be in that version's ladder. */
  readonly layer?: string;
  readonly option?: string;
  readonly jobId?: string;
  readonly latency?: {
    readonly medianMs: number;
    readonly p95Ms: number;
    readonly p99Ms: number;
    readonly meanMs: number;
    readonly cv: number;
    readonly runs: number;
  };
  readonly memory?: {
    readonly residentBytes: number;
    readonly weightBytes: number;
    readonly artifactBytes: number;
  };
  /** The conditions of the measurement (runtime version, provider, threads, runs, batch size). */
  readonly context: Readonly<Record<string, unknown>>;
  readonly measuredAt: Date;
}

export interface EventInput {
  /** The device's id for the event: a resent event is stored once. */
  readonly id: string;
  readonly kind: EventKind;
  readonly model: string;
  readonly deploymentId?: string;
  readonly detail: string;
  readonly observed?: number;
  readonly bound?: number;
  readonly artifactSha256?: string;
  readonly at: Date;
}

export interface ReportInput {
  readonly batchId: string;
  readonly measurements: readonly MeasurementInput[];
  readonly events: readonly EventInput[];
}

export interface IngestResult {
  /** False when the batch id was stored before: nothing was written this time. */
  readonly stored: boolean;
  readonly measurements: number;
  readonly events: number;
}

/** Checks what the database cannot: kinds, and that each kind carries its figures. */
function validate(report: ReportInput): void {
  if (!report.batchId) throw new InvalidArgumentError('batchId', 'is empty');
  report.measurements.forEach((m, i) => {
    const where = `measurements[${i}]`;
    if (!MEASUREMENT_KINDS.includes(m.kind)) {
      throw new InvalidArgumentError(`${where}.kind`, `must be one of ${MEASUREMENT_KINDS.join(', ')}`);
    }
    if (m.kind === 'layer-latency' && (!m.layer || !m.option)) {
      throw new InvalidArgumentError(where, 'a layer latency names its layer and option');
    }
    if (m.kind !== 'model-memory' && !m.latency) {
      throw new InvalidArgumentError(where, `a ${m.kind} measurement carries latency figures`);
    }
    if (m.kind === 'model-memory' && !m.memory) {
      throw new InvalidArgumentError(where, 'a model-memory measurement carries memory figures');
    }
    const figures = [...Object.values(m.latency ?? {}), ...Object.values(m.memory ?? {})];
    if (figures.some((v) => !Number.isFinite(v) || v < 0)) {
      throw new InvalidArgumentError(where, 'figures must be finite and non-negative');
    }
  });
  report.events.forEach((e, i) => {
    if (!EVENT_KINDS.includes(e.kind)) {
      throw new InvalidArgumentError(`events[${i}].kind`, `must be one of ${EVENT_KINDS.join(', ')}`);
    }
    if (!e.id) throw new InvalidArgumentError(`events[${i}].id`, 'is empty');
  });
}

/** DateTime as Prisma stores it in SQLite (ISO 8601, explicit UTC offset). */
function sqliteDate(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}

/**
 * Stores one report batch from a device, all or nothing, once: a batch id seen before is
 * acknowledged without writing. Every measured model must be an uploaded version and every layer
 * option one of its ladder; otherwise nothing is written and the error names what is unknown.
 * Runs as one SQLite transaction with prepared statements (the ingestion hot path).
 * @throws InvalidArgumentError, NotFoundError
 */
export function ingestReport(
  db: OpenedDatabase,
  device: { readonly id: string; readonly deviceClassId: string },
  report: ReportInput,
): IngestResult {
  validate(report);
  const sql = writerOf(db);
  const statements = prepared(sql);
  return sql.transaction((): IngestResult => {
    if (statements.batchExists.get(report.batchId)) return { stored: false, measurements: 0, events: 0 };
    const versions = new Map<string, string>();
    const artifacts = new Map<string, string>();
    const options = new Map<string, string>();
    for (const sha of new Set(report.measurements.map((m) => m.modelSha256))) {
      // A figure of a deployed artifact counts for its version, marked as the artifact's.
      const artifact = statements.artifact.get(sha) as { id: string; modelVersionId: string } | undefined;
      const version = artifact
        ? { id: artifact.modelVersionId }
        : (statements.version.get(sha) as { id: string } | undefined);
      if (!version)
        throw new NotFoundError('model version', `no uploaded model or artifact has sha256 ${sha}`);
      if (artifact) artifacts.set(sha, artifact.id);
      versions.set(sha, version.id);
      for (const o of statements.options.all(version.id) as { id: string; layer: string; option: string }[]) {
        options.set(`${version.id}\0${o.layer}\0${o.option}`, o.id);
      }
    }
    const now = sqliteDate(new Date());
    for (const m of report.measurements) {
      const modelVersionId = versions.get(m.modelSha256)!;
      let layerOptionId: string | null = null;
      if (m.kind === 'layer-latency' && artifacts.has(m.modelSha256)) {
        throw new InvalidArgumentError(
          'measurements',
          'layer latencies are measured on original models only',
        );
      }
      if (m.kind === 'layer-latency') {
        layerOptionId = options.get(`${modelVersionId}\0${m.layer}\0${m.option}`) ?? null;
        if (!layerOptionId) {
          throw new NotFoundError(
            'layer option',
            `model ${m.modelSha256.slice(0, 12)} has no option '${m.option}' for layer '${m.layer}'`,
          );
        }
      }
      const l = m.latency;
      statements.measurement.run(
        randomUUID(),
        device.id,
        device.deviceClassId,
        modelVersionId,
        layerOptionId,
        artifacts.get(m.modelSha256) ?? null,
        m.kind,
        m.jobId || null,
        l?.medianMs ?? null,
        l?.p95Ms ?? null,
        l?.p99Ms ?? null,
        l?.meanMs ?? null,
        l?.cv ?? null,
        l?.runs ?? null,
        m.memory ? BigInt(m.memory.residentBytes) : null,
        m.memory ? BigInt(m.memory.weightBytes) : null,
        m.memory ? BigInt(m.memory.artifactBytes) : null,
        JSON.stringify(m.context),
        sqliteDate(m.measuredAt),
        now,
      );
    }
    let events = 0;
    for (const e of report.events) {
      // An event resent inside a new batch is stored once, under its own id.
      events += statements.event.run(
        e.id,
        device.id,
        e.kind,
        e.model,
        e.deploymentId || null,
        e.detail,
        e.observed ?? null,
        e.bound ?? null,
        e.artifactSha256 || null,
        sqliteDate(e.at),
        now,
      ).changes;
      // A deployment's state follows what its device reports ("failed: why" -> failed).
      const state = e.detail.split(':')[0];
      if (
        e.kind === 'deployment-state' &&
        e.deploymentId &&
        DEPLOYMENT_STATES.includes(state as DeploymentState)
      ) {
        statements.deployment.run(state, e.detail, now, e.deploymentId, device.id);
      }
    }
    statements.batch.run(report.batchId, device.id, now);
    statements.seen.run(now, device.id);
    return { stored: true, measurements: report.measurements.length, events };
  })();
}

const cache = new WeakMap<Database.Database, ReturnType<typeof prepare>>();

function prepared(sql: Database.Database) {
  let statements = cache.get(sql);
  if (!statements) cache.set(sql, (statements = prepare(sql)));
  return statements;
}

function prepare(sql: Database.Database) {
  return {
    batchExists: sql.prepare('SELECT 1 FROM "ReportBatch" WHERE "batchId" = ?'),
    version: sql.prepare('SELECT "id" FROM "ModelVersion" WHERE "sha256" = ?'),
    artifact: sql.prepare('SELECT "id", "modelVersionId" FROM "Artifact" WHERE "sha256" = ?'),
    deployment: sql.prepare(
      'UPDATE "Deployment" SET "state" = ?, "detail" = ?, "updatedAt" = ? WHERE "id" = ? AND "deviceId" = ?',
    ),
    options: sql.prepare('SELECT "id", "layer", "option" FROM "LayerOption" WHERE "modelVersionId" = ?'),
    measurement: sql.prepare(
      `INSERT INTO "Measurement" ("id", "deviceId", "deviceClassId", "modelVersionId", "layerOptionId",
        "artifactId", "kind", "jobId", "medianMs", "p95Ms", "p99Ms", "meanMs", "cv", "runs", "residentBytes",
        "weightBytes", "artifactBytes", "contextJson", "measuredAt", "createdAt")
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    event: sql.prepare(
      `INSERT OR IGNORE INTO "Event" ("id", "deviceId", "kind", "model", "deploymentId", "detail", "observed",
        "bound", "artifactSha256", "at", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    batch: sql.prepare('INSERT INTO "ReportBatch" ("batchId", "deviceId", "receivedAt") VALUES (?, ?, ?)'),
    seen: sql.prepare('UPDATE "Device" SET "lastSeenAt" = ? WHERE "id" = ?'),
  };
}

/** Every figure measured for a model version itself (not its artifacts) on a class's devices (`at`: unix ms). */
export async function classMeasurements(
  prisma: PrismaClient,
  deviceClassId: string,
  modelVersionId: string,
): Promise<ClassMeasurement[]> {
  const rows = await prisma.measurement.findMany({
    where: { deviceClassId, modelVersionId, artifactId: null },
    include: { layerOption: { select: { layer: true, option: true } } },
  });
  return rows.map((m): ClassMeasurement => {
    const at = m.measuredAt.getTime();
    if (m.kind === 'layer-latency') {
      return {
        kind: 'layer-latency',
        deviceId: m.deviceId,
        layer: m.layerOption!.layer,
        option: m.layerOption!.option,
        medianMs: m.medianMs!,
        at,
      };
    }
    if (m.kind === 'model-latency') {
      return {
        kind: 'model-latency',
        deviceId: m.deviceId,
        medianMs: m.medianMs!,
        p95Ms: m.p95Ms!,
        p99Ms: m.p99Ms!,
        runOverheadMs: (JSON.parse(m.contextJson) as { runOverheadMs?: number }).runOverheadMs,
        at,
      };
    }
    return {
      kind: 'model-memory',
      deviceId: m.deviceId,
      residentBytes: Number(m.residentBytes),
      weightBytes: Number(m.weightBytes),
      at,
    };
  });
}
