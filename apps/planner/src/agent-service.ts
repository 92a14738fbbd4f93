import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { type Metadata, type ServerWritableStream, type ServiceError, status } from '@grpc/grpc-js';
import { InvalidArgumentError, NotFoundError } from '@blinknet/core';
import {
  type AgentServiceServer,
  type DeviceEvent,
  EventKind,
  type FetchArtifactRequest,
  type FetchArtifactResponse,
  type Measurement,
  MeasurementKind,
  type ReportRequest,
  type WatchJobsRequest,
  WatchJobsResponse,
} from '@blinknet/proto/v1/agent';
import {
  completeJobs,
  type DeviceRecord,
  deviceByTokenHash,
  type EventInput,
  fileBySha256,
  ingestReport,
  type MeasurementInput,
  type OpenedDatabase,
  pendingJobs,
  registerDevice,
} from '@blinknet/store';
import { bearerToken, sha256, tokenMatches } from './auth';

/** Artifact chunks are at most this big (well under gRPC's 4 MB default message limit). */
export const CHUNK_BYTES = 1024 * 1024;

const MEASUREMENT_KINDS: Partial<Record<MeasurementKind, MeasurementInput['kind']>> = {
  [MeasurementKind.MEASUREMENT_KIND_LAYER_LATENCY]: 'layer-latency',
  [MeasurementKind.MEASUREMENT_KIND_MODEL_LATENCY]: 'model-latency',
  [MeasurementKind.MEASUREMENT_KIND_MODEL_MEMORY]: 'model-memory',
};

const EVENT_KINDS: Partial<Record<EventKind, EventInput['kind']>> = {
  [EventKind.EVENT_KIND_BOUND_VIOLATED]: 'bound-violated',
  [EventKind.EVENT_KIND_LADDER_STEP_DOWN]: 'ladder-step-down',
  [EventKind.EVENT_KIND_LADDER_STEP_UP]: 'ladder-step-up',
  [EventKind.EVENT_KIND_DEPLOYMENT_STATE]: 'deployment-state',
  [EventKind.EVENT_KIND_ARTIFACT_REJECTED]: 'artifact-rejected',
};

function measurementInput(m: Measurement, i: number): MeasurementInput {
  const kind = MEASUREMENT_KINDS[m.kind];
  if (!kind) throw new InvalidArgumentError(`measurements[${i}].kind`, `unknown kind ${m.kind}`);
  return {
    kind,
    modelSha256: m.modelSha256,
    layer: m.layer || undefined,
    option: m.option || undefined,
    jobId: m.jobId || undefined,
    latency: m.latency,
    memory: m.memory && {
      residentBytes: m.memory.residentBytes,
      weightBytes: m.memory.weightBytes,
      artifactBytes: m.memory.artifactBytes,
    },
    // The arena setting and the loads measured are conditions of the memory figure: kept with the context.
    context: {
      ...m.context,
      ...(m.memory ? { arenaEnabled: m.memory.arenaEnabled, memorySamples: m.memory.samples || 1 } : {}),
    },
    measuredAt: new Date(m.measuredAtUnixMs),
  };
}

function eventInput(e: DeviceEvent, i: number): EventInput {
  const kind = EVENT_KINDS[e.kind];
  if (!kind) throw new InvalidArgumentError(`events[${i}].kind`, `unknown kind ${e.kind}`);
  return {
    id: e.eventId,
    kind,
    model: e.model,
    deploymentId: e.deploymentId || undefined,
    detail: e.detail,
    observed: e.observed,
    bound: e.bound,
    artifactSha256: e.artifactSha256 || undefined,
    at: new Date(e.atUnixMs),
  };
}

export interface AgentServiceOptions {
  readonly db: OpenedDatabase;
  /** Where stored files' paths (models, artifacts) are relative to. */
  readonly dataDir: string;
  readonly enrollmentSecret: string;
}

/**
 * The device API: enrolment, report ingestion (each batch once, all or nothing), the job stream and
 * artifact downloads. Every call but Register needs the device's token ("authorization: Bearer").
 */
export class AgentServiceImpl {
  private readonly watchers = new Map<
    string,
    Set<ServerWritableStream<WatchJobsRequest, WatchJobsResponse>>
  >();

  constructor(private readonly options: AgentServiceOptions) {}

  /** Whether the device has a job stream open now. */
  connected(deviceId: string): boolean {
    return (this.watchers.get(deviceId)?.size ?? 0) > 0;
  }

  /** Hands a newly queued job to the device's open job streams (it is stored as pending already). */
  notify(deviceId: string, job: WatchJobsResponse): void {
    for (const stream of this.watchers.get(deviceId) ?? []) stream.write(job);
  }

  private async authenticate(metadata: Metadata): Promise<DeviceRecord | undefined> {
    const token = bearerToken(metadata);
    if (!token) return undefined;
    return deviceByTokenHash(this.options.db.prisma, sha256(token).toString('hex'));
  }

  handlers(): AgentServiceServer {
    const { db } = this.options;
    const unauthenticated: Partial<ServiceError> = {
      code: status.UNAUTHENTICATED,
      details: 'missing or wrong device token',
    };
    return {
      register: (call, callback) => {
        (async () => {
          if (!tokenMatches(call.request.enrollmentSecret, this.options.enrollmentSecret)) {
            return callback({ code: status.PERMISSION_DENIED, details: 'wrong enrollment secret' });
          }
          const { deviceClass, name } = call.request;
          if (!deviceClass || !name) {
            return callback({ code: status.INVALID_ARGUMENT, details: 'device_class and name are required' });
          }
          const token = randomBytes(32).toString('base64url');
          const device = await registerDevice(db.prisma, {
            deviceClass,
            name,
            facts: call.request.facts,
            tokenSha256: sha256(token).toString('hex'),
          });
          callback(null, { deviceId: device.id, token });
        })().catch((error: Error) => callback({ code: status.INTERNAL, details: error.message }));
      },

      report: (call, callback) => {
        const batches: ReportRequest[] = [];
        call.on('data', (batch: ReportRequest) => batches.push(batch));
        call.on('end', () => {
          (async () => {
            const device = await this.authenticate(call.metadata);
            if (!device) return callback(unauthenticated);
            const storedBatchIds: string[] = [];
            const rejected: { batchId: string; reason: string }[] = [];
            const jobIds = new Set<string>();
            for (const batch of batches) {
              try {
                ingestReport(db, device, {
                  batchId: batch.batchId,
                  measurements: batch.measurements.map(measurementInput),
                  events: batch.events.map(eventInput),
                });
                storedBatchIds.push(batch.batchId);
                for (const m of batch.measurements) if (m.jobId) jobIds.add(m.jobId);
                // A deployment job ends with its outcome, figures or not (its id is the deployment's).
                for (const e of batch.events) {
                  const terminal = ['active', 'failed', 'rolled-back'].includes(e.detail.split(':')[0]);
                  if (e.kind === EventKind.EVENT_KIND_DEPLOYMENT_STATE && terminal && e.deploymentId)
                    jobIds.add(e.deploymentId);
                }
              } catch (error) {
                // Bad content never gets better by resending: the agent sets the batch aside.
                if (error instanceof InvalidArgumentError || error instanceof NotFoundError) {
                  rejected.push({ batchId: batch.batchId, reason: error.message });
                } else throw error;
              }
            }
            await completeJobs(db.prisma, device.id, [...jobIds]);
            callback(null, { storedBatchIds, rejected });
          })().catch((error: Error) => callback({ code: status.INTERNAL, details: error.message }));
        });
      },

      watchJobs: (call) => {
        (async () => {
          const device = await this.authenticate(call.metadata);
          if (!device) {
            call.emit('error', unauthenticated);
            return;
          }
          const streams = this.watchers.get(device.id) ?? new Set();
          this.watchers.set(device.id, streams);
          streams.add(call);
          const forget = () => streams.delete(call);
          call.on('cancelled', forget);
          call.on('close', forget);
          for (const job of await pendingJobs(db.prisma, device.id))
            call.write(WatchJobsResponse.decode(job.payload));
        })().catch((error: Error) => call.emit('error', { code: status.INTERNAL, details: error.message }));
      },

      fetchArtifact: (call: ServerWritableStream<FetchArtifactRequest, FetchArtifactResponse>) => {
        (async () => {
          if (!(await this.authenticate(call.metadata))) {
            call.emit('error', unauthenticated);
            return;
          }
          const { sha256: wanted, offset } = call.request;
          const file = await fileBySha256(db.prisma, wanted);
          if (!file) {
            call.emit('error', { code: status.NOT_FOUND, details: `no artifact ${wanted}` });
            return;
          }
          if (offset > file.bytes) {
            call.emit('error', {
              code: status.OUT_OF_RANGE,
              details: `offset ${offset} is past the end of ${wanted} (${file.bytes} bytes)`,
            });
            return;
          }
          const stream = createReadStream(join(this.options.dataDir, file.storagePath), {
            start: offset,
            highWaterMark: CHUNK_BYTES,
          });
          call.on('cancelled', () => stream.destroy());
          let at = offset;
          for await (const data of stream as AsyncIterable<Buffer>) {
            const chunk = { offset: at, data, totalBytes: file.bytes, sha256: wanted };
            at += data.length;
            // Respect flow control: wait for the client to drain before reading on.
            if (!call.write(chunk)) await new Promise((resolve) => call.once('drain', resolve));
          }
          call.end();
        })().catch((error: Error) => call.emit('error', { code: status.INTERNAL, details: error.message }));
      },
    };
  }
}
