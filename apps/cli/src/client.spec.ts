import {
  type handleClientStreamingCall,
  type handleUnaryCall,
  Server,
  ServerCredentials,
  status,
} from '@grpc/grpc-js';
import {
  type AdminServiceServer,
  AdminServiceService,
  type ListDevicesRequest,
  type ListDevicesResponse,
  type UploadModelRequest,
  type UploadModelResponse,
} from '@blinknet/proto/v1/admin';
import { AdminClient, UPLOAD_CHUNK_BYTES } from './client';
import { PlannerCallError } from './errors';

// AdminClient over real gRPC against a small in-test AdminService, for what the planner cannot be
// made to show on demand: how an upload is cut into messages, and what happens when it stops early.

const TOKEN = 'admin-token';
const HEADER = { name: 'big', datasetId: '', sha256: 'ab'.repeat(32), bytes: 0, inputsBytes: 0 };

interface Received {
  authorization?: string;
  deadline?: unknown;
  /** 'header' or the size of each chunk, in order. */
  messages: (number | 'header')[];
  /** The client ended the stream: the planner would take the file as complete. */
  ended: boolean;
}

async function serve(
  handlers: Partial<AdminServiceServer>,
): Promise<{ address: string; stop: () => Promise<void> }> {
  const server = new Server();
  server.addService(AdminServiceService, handlers as AdminServiceServer);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** Records an upload; answers at its end, or at once with `refuse`. */
function receiver(received: Received, refuse?: { code: status; details: string }) {
  const handler: handleClientStreamingCall<UploadModelRequest, UploadModelResponse> = (call, callback) => {
    received.authorization = String(call.metadata.get('authorization')[0]);
    if (refuse) return callback(refuse);
    call.on('data', (message: UploadModelRequest) =>
      received.messages.push(message.header ? 'header' : message.chunk!.length),
    );
    call.on('end', () => {
      received.ended = true;
      callback(null, { version: undefined, created: true });
    });
  };
  return handler;
}

/** How many chunks endless() has handed out. */
let pulled = 0;

/** A file that never ends. */
async function* endless(): AsyncGenerator<Uint8Array> {
  for (;;) {
    pulled++;
    yield new Uint8Array(UPLOAD_CHUNK_BYTES);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('AdminClient', () => {
  it('streams an upload as the header, then messages of at most 1 MiB, with the token', async () => {
    const received: Received = { messages: [], ended: false };
    const planner = await serve({ uploadModel: receiver(received) });
    const client = new AdminClient(planner.address, TOKEN, 10_000);
    const sent: number[] = [];
    try {
      const data = (async function* () {
        yield new Uint8Array(2.5 * UPLOAD_CHUNK_BYTES); // one large read, cut into three messages
        yield new Uint8Array(10);
      })();
      const response = await client.uploadModel(HEADER, data, (bytes) => sent.push(bytes));
      expect(response.created).toBe(true);
    } finally {
      client.close();
      await planner.stop();
    }
    expect(received.authorization).toBe(`Bearer ${TOKEN}`);
    expect(received.messages).toEqual([
      'header',
      UPLOAD_CHUNK_BYTES,
      UPLOAD_CHUNK_BYTES,
      UPLOAD_CHUNK_BYTES / 2,
      10,
    ]);
    expect(sent).toEqual(
      [1, 2, 2.5].map((mib) => mib * UPLOAD_CHUNK_BYTES).concat(2.5 * UPLOAD_CHUNK_BYTES + 10),
    );
  });

  it('stops reading the file once the planner refuses the upload', async () => {
    const received: Received = { messages: [], ended: false };
    const planner = await serve({
      uploadModel: receiver(received, {
        code: status.UNAUTHENTICATED,
        details: 'missing or wrong admin token',
      }),
    });
    const client = new AdminClient(planner.address, 'wrong', 10_000);
    pulled = 0;
    try {
      const error = await client.uploadModel(HEADER, endless()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlannerCallError);
      expect((error as PlannerCallError).message).toBe('UNAUTHENTICATED: missing or wrong admin token');
      const pulledThen = pulled;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(pulled).toBeLessThanOrEqual(pulledThen + 1); // at most the read in flight
    } finally {
      client.close();
      await planner.stop();
    }
  });

  it('never ends an upload whose file cannot be read, and reports the read error', async () => {
    const received: Received = { messages: [], ended: false };
    const planner = await serve({ uploadModel: receiver(received) });
    const client = new AdminClient(planner.address, TOKEN, 10_000);
    try {
      const data = (async function* () {
        yield new Uint8Array(100);
        throw new Error('EIO: i/o error, read');
      })();
      await expect(client.uploadModel(HEADER, data)).rejects.toThrow('EIO: i/o error, read');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received.ended).toBe(false);
    } finally {
      client.close();
      await planner.stop();
    }
  });

  it('sends the token and a deadline with every call, and names the status of a failure', async () => {
    const calls: Received[] = [];
    const listDevices: handleUnaryCall<ListDevicesRequest, ListDevicesResponse> = (call, callback) => {
      calls.push({
        authorization: String(call.metadata.get('authorization')[0]),
        deadline: call.getDeadline(),
        messages: [],
        ended: false,
      });
      if (call.request.deviceClass === 'jetson') {
        return callback({ code: status.NOT_FOUND, details: "no device class 'jetson'" });
      }
      callback(null, { devices: [] });
    };
    const planner = await serve({ listDevices });
    const client = new AdminClient(planner.address, TOKEN, 10_000);
    try {
      const before = Date.now();
      expect(await client.listDevices('')).toEqual({ devices: [] });
      const error = await client.listDevices('jetson').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlannerCallError);
      expect(error).toMatchObject({ code: 'NOT_FOUND', details: "no device class 'jetson'" });
      expect(calls[0].authorization).toBe(`Bearer ${TOKEN}`);
      const deadline = Number(calls[0].deadline); // a Date (from another realm) or a number
      expect(deadline).toBeGreaterThanOrEqual(before + 9_000);
      expect(deadline).toBeLessThanOrEqual(Date.now() + 10_000);
    } finally {
      client.close();
      await planner.stop();
    }
  });
});
