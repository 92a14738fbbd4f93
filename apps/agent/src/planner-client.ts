import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  AgentServiceClient,
  type FetchArtifactResponse,
  type RegisterRequest,
  type ReportRequest,
  type ReportResponse,
  type WatchJobsResponse,
} from '@blinknet/proto/v1/agent';

/** Messages up to 8 MiB: artifact chunks are at most 1 MiB, report streams are many small messages. */
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** A unary or client-streaming call that takes longer than this is treated as failed. */
const CALL_DEADLINE_MS = 30_000;

/** The agent's side of AgentService: one channel, the device token on every call after Register. */
export class PlannerClient {
  private readonly client: AgentServiceClient;
  private token: string | undefined;

  constructor(address: string) {
    this.client = new AgentServiceClient(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // The agent backs off itself; the channel should be ready to retry soon after an outage ends
      // (grpc-js's own reconnect backoff grows to 2 minutes).
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5_000,
    });
  }

  authenticate(token: string): void {
    this.token = token;
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    if (this.token) metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }

  private deadline(): Date {
    return new Date(Date.now() + CALL_DEADLINE_MS);
  }

  register(request: RegisterRequest): Promise<{ deviceId: string; token: string }> {
    return new Promise((resolve, reject) => {
      this.client.register(request, new Metadata(), { deadline: this.deadline() }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  /** Sends batches in one client stream; resolves to what the planner stored and what it rejected. */
  report(batches: readonly ReportRequest[]): Promise<ReportResponse> {
    return new Promise((resolve, reject) => {
      const call = this.client.report(this.metadata(), { deadline: this.deadline() }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
      for (const batch of batches) call.write(batch);
      call.end();
    });
  }

  /** The artifact's chunks from `offset`; the iterator throws if the stream breaks. */
  async *fetchArtifact(
    sha256: string,
    offset: number,
    signal?: AbortSignal,
  ): AsyncIterable<FetchArtifactResponse> {
    const call = this.client.fetchArtifact({ sha256, offset }, this.metadata());
    const cancel = () => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const chunk of call as AsyncIterable<FetchArtifactResponse>) yield chunk;
    } finally {
      signal?.removeEventListener('abort', cancel);
      call.cancel(); // no-op when the stream ended; frees it when the consumer stopped early
    }
  }

  /** This device's jobs as they come; ends (or throws) when the stream drops. */
  async *watchJobs(signal?: AbortSignal): AsyncIterable<WatchJobsResponse> {
    const call = this.client.watchJobs({}, this.metadata());
    const cancel = () => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const job of call as AsyncIterable<WatchJobsResponse>) yield job;
    } catch (error) {
      if ((error as ServiceError).code !== status.CANCELLED || !signal?.aborted) throw error;
    } finally {
      signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }
}
