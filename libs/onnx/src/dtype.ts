import { TensorProto_DataType as DataType } from '@blinknet/proto/onnx';

export { DataType };

/** The typed arrays BlinkNet converts ONNX tensors to and from. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

interface DataTypeInfo {
  readonly label: string;
  readonly bytes: number;
  readonly array: { new (length: number): TensorData; new (buffer: ArrayBuffer): TensorData };
}

const INFO: Partial<Record<DataType, DataTypeInfo>> = {
  [DataType.FLOAT]: { label: 'float32', bytes: 4, array: Float32Array },
  [DataType.DOUBLE]: { label: 'float64', bytes: 8, array: Float64Array },
  [DataType.INT8]: { label: 'int8', bytes: 1, array: Int8Array },
  [DataType.UINT8]: { label: 'uint8', bytes: 1, array: Uint8Array },
  [DataType.BOOL]: { label: 'bool', bytes: 1, array: Uint8Array },
  [DataType.INT16]: { label: 'int16', bytes: 2, array: Int16Array },
  [DataType.UINT16]: { label: 'uint16', bytes: 2, array: Uint16Array },
  [DataType.FLOAT16]: { label: 'float16', bytes: 2, array: Uint16Array },
  [DataType.INT32]: { label: 'int32', bytes: 4, array: Int32Array },
  [DataType.UINT32]: { label: 'uint32', bytes: 4, array: Uint32Array },
  [DataType.INT64]: { label: 'int64', bytes: 8, array: BigInt64Array },
  [DataType.UINT64]: { label: 'uint64', bytes: 8, array: BigUint64Array },
};

/** Facts about a numeric ONNX data type, or undefined for strings, complex and unknown types. */
export function dataTypeInfo(dataType: number): DataTypeInfo | undefined {
  return INFO[dataType as DataType];
}

/** A readable name for an ONNX data type code (`float32`, `int8`, or `type 8`). */
export function dataTypeLabel(dataType: number): string {
  return dataTypeInfo(dataType)?.label ?? DataType[dataType]?.toLowerCase() ?? `type ${dataType}`;
}

/** The ONNX data type that a typed array holds (bool and float16 need to be asked for explicitly). */
export function dataTypeOf(data: TensorData): DataType {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int16Array) return DataType.INT16;
  if (data instanceof Uint16Array) return DataType.UINT16;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof Uint32Array) return DataType.UINT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  return DataType.UINT64;
}
