import { type TensorProto, TensorProto_DataLocation } from '@blinknet/proto/onnx';
import { type DataType, dataTypeInfo, dataTypeLabel, dataTypeOf, type TensorData } from './dtype';
import { ExternalDataError, TensorDataError } from './errors';

/** An ONNX tensor as a typed array. `dims` are plain numbers (ONNX shapes fit in 2^53). */
export interface Tensor {
  readonly name: string;
  readonly dataType: DataType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

// ONNX stores raw_data little-endian; typed arrays use the host's order.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** Converts ONNX int64 values to numbers, refusing values a number cannot hold exactly. */
export function toSafeNumbers(values: readonly bigint[], what: string): number[] {
  return values.map((v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new TensorDataError(what, `value ${v} does not fit in a JS number`);
    return n;
  });
}

/** Decodes a TensorProto's data, whichever field holds it, into a typed array. */
export function tensorFromProto(proto: TensorProto): Tensor {
  const name = proto.name;
  if (proto.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    const location = proto.externalData.find((e) => e.key === 'location')?.value ?? '(unnamed)';
    throw new ExternalDataError(name, location);
  }
  const info = dataTypeInfo(proto.dataType);
  if (!info) throw new TensorDataError(name, `unsupported data type ${dataTypeLabel(proto.dataType)}`);
  const dims = toSafeNumbers(proto.dims, name);
  const count = elementCount(dims);
  const data = new info.array(count);

  if (proto.rawData.length > 0) {
    if (!HOST_IS_LITTLE_ENDIAN) throw new TensorDataError(name, 'big-endian hosts are not supported');
    if (proto.rawData.length !== count * info.bytes) {
      throw new TensorDataError(
        name,
        `raw_data holds ${proto.rawData.length} bytes, dims [${dims}] of ${info.label} need ${count * info.bytes}`,
      );
    }
    // Copy: the decoded bytes may be unaligned views into the file buffer.
    new Uint8Array(data.buffer).set(proto.rawData);
  } else {
    const values = typedFieldOf(proto);
    if (values.length !== count) {
      throw new TensorDataError(name, `holds ${values.length} values, dims [${dims}] need ${count}`);
    }
    for (let i = 0; i < count; i++) (data as unknown as unknown[])[i] = values[i];
  }
  return { name, dataType: proto.dataType as DataType, dims, data };
}

/** The typed value field ONNX uses for a data type when raw_data is empty. */
function typedFieldOf(proto: TensorProto): readonly (number | bigint)[] {
  const info = dataTypeInfo(proto.dataType);
  if (info?.array === BigInt64Array) return proto.int64Data;
  if (info?.array === BigUint64Array) return proto.uint64Data;
  if (info?.array === Float32Array) return proto.floatData;
  if (info?.array === Float64Array) return proto.doubleData;
  if (info?.array === Uint32Array) return proto.uint64Data.map(Number);
  return proto.int32Data; // int8, uint8, bool, int16, uint16, float16 bits, int32
}

/** Encodes a tensor into a TensorProto with raw_data (the compact form every runtime reads). */
export function tensorToProto(tensor: {
  name: string;
  dims: readonly number[];
  data: TensorData;
  dataType?: DataType;
}): TensorProto {
  const expected = elementCount(tensor.dims);
  if (tensor.data.length !== expected) {
    throw new TensorDataError(
      tensor.name,
      `holds ${tensor.data.length} values, dims [${tensor.dims}] need ${expected}`,
    );
  }
  if (!HOST_IS_LITTLE_ENDIAN) throw new TensorDataError(tensor.name, 'big-endian hosts are not supported');
  return {
    name: tensor.name,
    dims: tensor.dims.map(BigInt),
    dataType: tensor.dataType ?? dataTypeOf(tensor.data),
    rawData: new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
    floatData: [],
    int32Data: [],
    stringData: [],
    int64Data: [],
    docString: '',
    externalData: [],
    dataLocation: TensorProto_DataLocation.DEFAULT,
    doubleData: [],
    uint64Data: [],
  };
}

/** Bytes the tensor's elements occupy (what it adds to an artifact and to resident weights). */
export function tensorByteSize(proto: TensorProto): number {
  const info = dataTypeInfo(proto.dataType);
  if (!info) throw new TensorDataError(proto.name, `unsupported data type ${dataTypeLabel(proto.dataType)}`);
  return elementCount(toSafeNumbers(proto.dims, proto.name)) * info.bytes;
}
