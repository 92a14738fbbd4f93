// Raw AdminService calls for the planner's tests: they exercise the wire contract (any metadata,
// any header), which the CLI's typed client deliberately does not allow.
import { createHash } from 'node:crypto';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { type AdminServiceClient, type UploadModelResponse } from '@blinknet/proto/v1/admin';

/** "authorization: Bearer <token>" metadata. */
export function bearer(token: string): Metadata {
  const m = new Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

/** One call as a promise, with the given metadata. */
export function call<Res>(
  invoke: (metadata: Metadata, callback: (error: ServiceError | null, response: Res) => void) => unknown,
  metadata: Metadata,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    invoke(metadata, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

/**
 * Streams a file as the admin API wants it: header (sha256 and size of `bytes` unless given), then 1 MiB
 * chunks of the file followed by the supplied inputs, if any.
 */
export function upload(
  client: AdminServiceClient,
  bytes: Uint8Array,
  header: { name: string; datasetId?: string; sha256?: string; bytes?: number; inputs?: Uint8Array },
  metadata: Metadata,
): Promise<UploadModelResponse> {
  return new Promise((resolve, reject) => {
    const stream = client.uploadModel(metadata, (error, response) =>
      error ? reject(error) : resolve(response),
    );
    stream.write({
      header: {
        name: header.name,
        datasetId: header.datasetId ?? '',
        sha256: header.sha256 ?? createHash('sha256').update(bytes).digest('hex'),
        bytes: header.bytes ?? bytes.length,
        inputsBytes: header.inputs?.length ?? 0,
      },
    });
    const all = Buffer.concat([bytes, header.inputs ?? new Uint8Array()]);
    for (let at = 0; at < all.length; at += 1 << 20) {
      stream.write({ chunk: all.subarray(at, at + (1 << 20)) });
    }
    stream.end();
  });
}
