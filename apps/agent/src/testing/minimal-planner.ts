import { createHash, randomUUID } from 'node:crypto';
import {
  type Metadata,
  type sendUnaryData,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  status,
} from '@grpc/grpc-js';
import {
  AgentServiceService,
  type AgentServiceServer,
  type FetchArtifactRequest,
  type FetchArtifactResponse,
  type ReportRequest,
  type WatchJobsRequest,
  type WatchJobsResponse,
} from '@blinknet/proto/v1/agent';

export const ENROLLMENT_SECRET = 'fleet-secret';
const CHUNK_BYTES = 64 * 1024;

/**
 * A minimal but real AgentService on 127.0.0.1 for the agent's tests (the planner app implements the
 * full service): it enrols devices, stores report batches once by id, serves artifacts in chunks,
 * and hands out queued jobs. Faults are injected on request.
 */
export class MinimalPlanner {
  readonly registrations: string[] = [];
  /** Batches stored, by id; `deliveries` counts every batch received, repeats included. */
  readonly batches = new Map<string, ReportRequest>();
  deliveries = 0;
  readonly fetchOffsets: number[] = [];
  readonly artifacts = new Map<string, Uint8Array>();
  /** When set, the next artifact stream breaks after this many bytes (once). */
  breakNextFetchAfter: number | undefined;
  private readonly tokens = new Set<string>();
  private readonly jobs: WatchJobsResponse[] = [];
  private readonly watchers = new Set<ServerWritableStream<WatchJobsRequest, WatchJobsResponse>>();
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<this> {
    const server = new Server();
    server.addService(AgentServiceService, this.service());
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    this.server = server;
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Stops at once, breaking open streams (an outage). */
  stop(): void {
    for (const w of this.watchers) w.destroy();
    this.watchers.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** Serves `bytes` under their sha256; returns the reference a job carries. */
  addArtifact(bytes: Uint8Array, sha256 = createHash('sha256').update(bytes).digest('hex')) {
    this.artifacts.set(sha256, bytes);
    return { sha256, bytes: bytes.length };
  }

  /** Queues a job for every current and future watcher. */
  push(job: Omit<WatchJobsResponse, 'jobId'>): string {
    const full = { jobId: randomUUID(), ...job } as WatchJobsResponse;
    this.jobs.push(full);
    for (const w of this.watchers) w.write(full);
    return full.jobId;
  }

  measurements() {
    return [...this.batches.values()].flatMap((b) => b.measurements);
  }

  events() {
    return [...this.batches.values()].flatMap((b) => b.events);
  }

  private authorized(metadata: Metadata): boolean {
    const header = String(metadata.get('authorization')[0] ?? '');
    return this.tokens.has(header.replace(/^Bearer /, ''));
  }

  private service(): AgentServiceServer {
    const denied = (callback: sendUnaryData<never>) =>
      callback({ code: status.UNAUTHENTICATED, details: 'missing or wrong device token' });
    return {
      register: (call, callback) => {
        if (call.request.enrollmentSecret !== ENROLLMENT_SECRET) {
          callback({ code: status.PERMISSION_DENIED, details: 'wrong enrollment secret' });
          return;
        }
        const token = randomUUID();
        this.tokens.add(token);
        this.registrations.push(call.request.name);
        callback(null, { deviceId: `device-${call.request.name}`, token });
      },
      report: (call, callback) => {
        if (!this.authorized(call.metadata)) {
          denied(callback);
          return;
        }
        const stored: string[] = [];
        call.on('data', (batch: ReportRequest) => {
          this.deliveries++;
          if (!this.batches.has(batch.batchId)) this.batches.set(batch.batchId, batch);
          stored.push(batch.batchId);
        });
        call.on('end', () => callback(null, { storedBatchIds: stored, rejected: [] }));
      },
      watchJobs: (call) => {
        if (!this.authorized(call.metadata)) {
          call.emit('error', { code: status.UNAUTHENTICATED, details: 'missing or wrong device token' });
          return;
        }
        this.watchers.add(call);
        call.on('cancelled', () => this.watchers.delete(call));
        call.on('close', () => this.watchers.delete(call));
        for (const job of this.jobs) call.write(job);
      },
      fetchArtifact: (call: ServerWritableStream<FetchArtifactRequest, FetchArtifactResponse>) => {
        const { sha256, offset } = call.request;
        this.fetchOffsets.push(offset);
        const bytes = this.artifacts.get(sha256);
        if (!bytes) {
          call.emit('error', { code: status.NOT_FOUND, details: `no artifact ${sha256}` });
          return;
        }
        const breakAfter = this.breakNextFetchAfter;
        this.breakNextFetchAfter = undefined;
        let sent = 0;
        for (let at = offset; at < bytes.length; at += CHUNK_BYTES) {
          const data = bytes.subarray(at, Math.min(bytes.length, at + CHUNK_BYTES));
          if (breakAfter !== undefined && sent + data.length > breakAfter) {
            call.emit('error', { code: status.UNAVAILABLE, details: 'connection lost' });
            return;
          }
          call.write({ offset: at, data: Buffer.from(data), totalBytes: bytes.length, sha256 });
          sent += data.length;
        }
        call.end();
      },
    };
  }
}
