import { type Server, type ServiceError, status } from '@grpc/grpc-js';
import { InvalidArgumentError, NotFoundError } from '@blinknet/core';
import {
  LocalRuntimeServiceService,
  type LocalRuntimeServiceServer,
  type Tensor,
} from '@blinknet/proto/v1/runtime';
import { type FloatTensor, InferenceError } from '@blinknet/runtime';
import { type LocalRuntime } from './local-runtime';

/** Float32 values from little-endian bytes (copied: protobuf buffers need not be 4-byte aligned). */
export function tensorFromProto(tensor: Tensor | undefined): FloatTensor {
  if (!tensor) throw new InvalidArgumentError('input', 'is missing');
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  if (tensor.data.byteLength !== count * 4) {
    throw new InvalidArgumentError(
      'input',
      `dims [${tensor.dims}] need ${count * 4} bytes of float32, got ${tensor.data.byteLength}`,
    );
  }
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(tensor.data);
  return { data, dims: tensor.dims };
}

export function tensorToProto(tensor: FloatTensor): Tensor {
  return {
    dims: [...tensor.dims],
    data: Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
  };
}

/** gRPC status for an error: the message goes back as details, never a stack. */
function toStatus(error: unknown): Partial<ServiceError> {
  const code =
    error instanceof NotFoundError
      ? status.NOT_FOUND
      : error instanceof InvalidArgumentError || error instanceof InferenceError
        ? status.INVALID_ARGUMENT
        : status.INTERNAL;
  return { code, details: (error as Error).message };
}

/** Registers LocalRuntimeService on `server`, answering from `runtime`. */
export function addLocalRuntimeService(server: Server, runtime: LocalRuntime): void {
  const service: LocalRuntimeServiceServer = {
    infer: (call, callback) => {
      (async () => {
        const result = await runtime.infer(call.request.model, tensorFromProto(call.request.input));
        return {
          output: tensorToProto(result.output),
          artifactSha256: result.sha256,
          latencyMs: result.latencyMs,
        };
      })().then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
    },
    listModels: (_call, callback) => {
      callback(null, {
        models: runtime.list().map((m) => ({
          model: m.model,
          artifactSha256: m.sha256,
          ladderStep: m.step,
          ladderSteps: m.steps,
          inputName: m.inputName,
          inputDims: [...m.inputDims],
        })),
      });
    },
  };
  server.addService(LocalRuntimeServiceService, service);
}
