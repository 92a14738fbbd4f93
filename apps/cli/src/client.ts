import {
  type CallOptions,
  type ClientUnaryCall,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { BYTES_PER_MIB } from '@blinknet/core';
import {
  AdminServiceClient,
  type DeletePolicyResponse,
  type DeployResponse,
  type GetPolicyResponse,
  type GetStatusResponse,
  type ListDeviceClassesResponse,
  type ListDevicesResponse,
  type ListModelVersionsResponse,
  type Policy,
  type PolicyScope,
  type PreviewPlanResponse,
  type RollbackResponse,
  type SetPolicyResponse,
  type UploadHeader,
  type UploadModelResponse,
} from '@blinknet/proto/v1/admin';
import { PlannerCallError } from './errors';

/** Upload messages carry at most 1 MiB (admin.proto, UploadModel). */
export const UPLOAD_CHUNK_BYTES = BYTES_PER_MIB;

type Callback<T> = (error: ServiceError | null, response: T) => void;

/** The calls commands make; AdminClient makes them over gRPC. */
export type AdminApi = Pick<
  AdminClient,
  | 'uploadModel'
  | 'listModelVersions'
  | 'listDeviceClasses'
  | 'listDevices'
  | 'setPolicy'
  | 'getPolicy'
  | 'deletePolicy'
  | 'previewPlan'
  | 'deploy'
  | 'getStatus'
  | 'rollback'
>;

/**
 * The CLI's one connection to the planner's AdminService: every call carries the admin token and a
 * deadline, and fails with a PlannerCallError naming its gRPC status.
 */
export class AdminClient {
  private readonly client: AdminServiceClient;

  constructor(
    /** HOST:PORT, also named in errors. */
    readonly address: string,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {
    this.client = new AdminServiceClient(address, credentials.createInsecure());
  }

  close(): void {
    this.client.close();
  }

  listModelVersions(): Promise<ListModelVersionsResponse> {
    return this.unary((md, options, done) => this.client.listModelVersions({}, md, options, done));
  }

  listDeviceClasses(): Promise<ListDeviceClassesResponse> {
    return this.unary((md, options, done) => this.client.listDeviceClasses({}, md, options, done));
  }

  listDevices(deviceClass: string): Promise<ListDevicesResponse> {
    return this.unary((md, options, done) => this.client.listDevices({ deviceClass }, md, options, done));
  }

  setPolicy(policy: Policy): Promise<SetPolicyResponse> {
    return this.unary((md, options, done) => this.client.setPolicy({ policy }, md, options, done));
  }

  getPolicy(scope: PolicyScope): Promise<GetPolicyResponse> {
    return this.unary((md, options, done) => this.client.getPolicy({ scope }, md, options, done));
  }

  deletePolicy(scope: PolicyScope): Promise<DeletePolicyResponse> {
    return this.unary((md, options, done) => this.client.deletePolicy({ scope }, md, options, done));
  }

  previewPlan(scope: PolicyScope): Promise<PreviewPlanResponse> {
    return this.unary((md, options, done) => this.client.previewPlan({ scope }, md, options, done));
  }

  deploy(scope: PolicyScope): Promise<DeployResponse> {
    return this.unary((md, options, done) => this.client.deploy({ scope }, md, options, done));
  }

  /** `scope` undefined: the newest deployment of every device and model. */
  getStatus(scope: PolicyScope | undefined): Promise<GetStatusResponse> {
    return this.unary((md, options, done) => this.client.getStatus({ scope }, md, options, done));
  }

  rollback(scope: PolicyScope): Promise<RollbackResponse> {
    return this.unary((md, options, done) => this.client.rollback({ scope }, md, options, done));
  }

  /**
   * Streams a model: the header, then the bytes of `data` in messages of at most UPLOAD_CHUNK_BYTES,
   * waiting for the stream to drain so that a large file never sits in memory. Stops reading as soon
   * as the planner answers early (e.g. UNAUTHENTICATED); an error reading `data` cancels the call.
   */
  uploadModel(
    header: UploadHeader,
    data: AsyncIterable<Uint8Array>,
    onSent?: (bytes: number) => void,
  ): Promise<UploadModelResponse> {
    return new Promise((resolve, reject) => {
      let answered = false;
      let onAnswer = () => {};
      const answer = new Promise<void>((done) => (onAnswer = done));
      const call = this.client.uploadModel(this.metadata(), this.callOptions(), (error, response) => {
        answered = true;
        onAnswer();
        if (error) reject(this.callError(error));
        else resolve(response);
      });
      const send = async () => {
        call.write({ header });
        let sent = 0;
        for await (const bytes of data) {
          for (let offset = 0; offset < bytes.length; offset += UPLOAD_CHUNK_BYTES) {
            if (answered) return;
            const chunk = bytes.subarray(offset, offset + UPLOAD_CHUNK_BYTES);
            const flushed = call.write({ chunk: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) });
            sent += chunk.length;
            onSent?.(sent);
            if (!flushed) await Promise.race([new Promise((drained) => call.once('drain', drained)), answer]);
          }
        }
        call.end();
      };
      send().catch((error: unknown) => {
        reject(error);
        call.cancel();
      });
    });
  }

  private metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }

  private callOptions(): Partial<CallOptions> {
    return { deadline: new Date(Date.now() + this.timeoutMs) };
  }

  private unary<T>(
    start: (metadata: Metadata, options: Partial<CallOptions>, done: Callback<T>) => ClientUnaryCall,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      start(this.metadata(), this.callOptions(), (error, response) =>
        error ? reject(this.callError(error)) : resolve(response),
      );
    });
  }

  /** The planner's status, with what the operator can do about the two that come from the network. */
  private callError(error: ServiceError): PlannerCallError {
    const code = status[error.code] ?? `STATUS ${error.code}`;
    let details = error.details || '(no details)';
    if (error.code === status.UNAVAILABLE) {
      // grpc-js says "No connection established. Last error: Error: connect ECONNREFUSED ... Resolution note: ".
      const cause = details
        .replace(/^No connection established\. Last error: (Error: )?/, '')
        .replace(/\.? ?Resolution note: ?$/, '');
      details = `cannot reach the planner at ${this.address} (${cause})`;
    } else if (error.code === status.DEADLINE_EXCEEDED) {
      details = `no answer from the planner at ${this.address} within ${this.timeoutMs / 1000} s (see --timeout-s)`;
    }
    return new PlannerCallError(code, details, { cause: error });
  }
}
