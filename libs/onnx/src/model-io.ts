import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GraphProto, ModelProto, TensorProto } from '@blinknet/proto/onnx';
import { NotFoundError } from '@blinknet/core';
import { OnnxDecodeError } from './errors';

export type { ModelProto };

/**
 * Decodes an ONNX model. Protobuf decodes many byte strings "successfully", so the result is checked
 * for what every ONNX model has: an IR version, an opset and a graph with at least one node.
 */
export function decodeModel(bytes: Uint8Array, source = 'model'): ModelProto {
  let model: ModelProto;
  try {
    model = ModelProto.decode(bytes);
  } catch (cause) {
    throw new OnnxDecodeError(source, `not a valid ONNX file (${(cause as Error).message})`, { cause });
  }
  if (model.irVersion <= 0n) throw new OnnxDecodeError(source, 'not an ONNX model: ir_version is missing');
  if (model.opsetImport.length === 0) throw new OnnxDecodeError(source, 'not an ONNX model: no opset_import');
  if (!model.graph || model.graph.node.length === 0) {
    throw new OnnxDecodeError(source, 'not an ONNX model: the graph is missing or empty');
  }
  return model;
}

/**
 * Encodes a model as a list of byte chunks whose concatenation is the .onnx file. Weight data is
 * referenced, not copied: protobuf's nested-message encoding would otherwise copy every tensor once
 * per nesting level (3 x 553 MB for VGG16). Repeated fields may be split and fields may come in any
 * order on the wire, so the initializers are appended to the graph's bytes as separate chunks.
 */
export function encodeModelChunks(model: ModelProto): Uint8Array[] {
  if (!model.graph) return [ModelProto.encode(model).finish()];
  const { graph, ...rest } = model;
  const graphChunks: Uint8Array[] = [GraphProto.encode({ ...graph, initializer: [] }).finish()];
  for (const tensor of graph.initializer) {
    const head = TensorProto.encode({ ...tensor, rawData: new Uint8Array(0) }).finish();
    const raw = tensor.rawData;
    const rawHeader = raw.length > 0 ? concat([[RAW_DATA_TAG], varint(raw.length)]) : new Uint8Array(0);
    const tensorLength = head.length + rawHeader.length + raw.length;
    graphChunks.push(concat([[GRAPH_INITIALIZER_TAG], varint(tensorLength), head, rawHeader]));
    if (raw.length > 0) graphChunks.push(raw);
  }
  const graphLength = graphChunks.reduce((n, c) => n + c.length, 0);
  const modelHead = ModelProto.encode({ ...rest, graph: undefined }).finish();
  return [concat([modelHead, [MODEL_GRAPH_TAG], varint(graphLength)]), ...graphChunks];
}

// Wire tags (field number << 3 | wire type 2, length-delimited) of the fields encoded by hand above.
const MODEL_GRAPH_TAG = (7 << 3) | 2;
const GRAPH_INITIALIZER_TAG = (5 << 3) | 2;
const RAW_DATA_TAG = (9 << 3) | 2;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function concat(parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return concat(encodeModelChunks(model));
}

export function readModel(path: string): ModelProto {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new NotFoundError('model file', `cannot read ONNX file ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return decodeModel(bytes, path);
}

/**
 * Writes a model atomically: to a temporary file beside the target, fsync'ed, then renamed over it,
 * so a crash or a full disk never leaves a half-written model under the final name.
 */
export function writeModel(path: string, model: ModelProto): number {
  return writeFileAtomic(path, encodeModelChunks(model));
}

/**
 * Writes bytes (one buffer or chunks) atomically: temp file (created with `mode`), fsync, rename,
 * fsync of the directory so that the rename itself survives a crash. Returns the bytes written.
 */
export function writeFileAtomic(
  path: string,
  bytes: Uint8Array | readonly Uint8Array[],
  mode = 0o644,
): number {
  const chunks = bytes instanceof Uint8Array ? [bytes] : bytes;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let total = 0;
  try {
    const fd = openSync(temp, 'w', mode);
    try {
      for (const chunk of chunks) {
        let offset = 0;
        while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
        total += chunk.length;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    syncDirectory(dirname(path));
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  return total;
}

/** fsync of a directory, which makes a rename or new entry in it durable. */
export function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
