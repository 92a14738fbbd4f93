import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TensorProto_DataLocation } from '@blinknet/proto/onnx';
import { ModelBuilder } from './builder';
import { ExternalDataError, OnnxDecodeError, TensorDataError } from './errors';
import { decodeModel, encodeModel, encodeModelChunks, readModel, writeModel } from './model-io';
import { ModelProto } from '@blinknet/proto/onnx';
import { tensorFromProto, tensorToProto } from './tensor';
import { DataType } from './dtype';
import { GraphView } from './graph';

function smallModel() {
  const b = new ModelBuilder({ name: 'small', seed: 7 });
  const x = b.input('x', [1, 2, 6, 6]);
  const y = b.relu(b.conv(x, { name: 'conv', outChannels: 3, kernel: 3, pad: 1 }), 'relu');
  b.output(b.gemm(b.flatten(y, 'flatten'), 'fc', 4));
  return b.build();
}

describe('model IO', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blinknet-onnx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes and reads back an identical model, atomically', () => {
    const model = smallModel();
    const path = join(dir, 'small.onnx');
    const bytes = writeModel(path, model);
    expect(readdirSync(dir)).toEqual(['small.onnx']); // no temp file left behind
    const back = readModel(path);
    expect(encodeModel(back)).toEqual(encodeModel(model));
    expect(bytes).toBe(encodeModel(model).length);
  });

  it('rejects a truncated file with a clear error naming the source', () => {
    const bytes = encodeModel(smallModel());
    const path = join(dir, 'truncated.onnx');
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => readModel(path)).toThrow(OnnxDecodeError);
    expect(() => readModel(path)).toThrow(path);
  });

  it('rejects bytes that are not ONNX', () => {
    expect(() => decodeModel(new TextEncoder().encode('hello, not a model'), 'hello.onnx')).toThrow(
      OnnxDecodeError,
    );
    expect(() => decodeModel(new Uint8Array(0), 'empty.onnx')).toThrow(/ir_version is missing/);
  });

  it('a missing file is reported with its path', () => {
    expect(() => readModel(join(dir, 'nope.onnx'))).toThrow(/cannot read ONNX file .*nope\.onnx/);
  });

  it('keeps unknown fields (e.g. ONNX functions) through a round trip', () => {
    const model = smallModel();
    const bytes = encodeModel(model);
    // Field 25 (ModelProto.functions), wire type 2: tag varint 202 = [0xca, 0x01], then 3 opaque bytes.
    const withExtra = new Uint8Array([...bytes, 0xca, 0x01, 3, 1, 2, 3]);
    const decoded = decodeModel(withExtra);
    expect(Object.values(decoded._unknownFields ?? {})).toEqual([[new Uint8Array([3, 1, 2, 3])]]);
    expect(decodeModel(encodeModel(decoded))).toEqual(decoded);
  });
});

describe('tensors', () => {
  it('round-trip float32, int64, int8 and uint8 through raw_data', () => {
    const cases = [
      new Float32Array([1.5, -2, 3.25, 0]),
      BigInt64Array.from([1n, -2n, 9007199254740993n, 0n]),
      Int8Array.from([-128, 127, 0, 5]),
      Uint8Array.from([0, 255, 7, 8]),
    ];
    for (const data of cases) {
      const back = tensorFromProto(tensorToProto({ name: 't', dims: [2, 2], data }));
      expect(back.data).toEqual(data);
      expect(back.dims).toEqual([2, 2]);
    }
  });

  it('reads the typed fields exporters use instead of raw_data', () => {
    const base = tensorToProto({ name: 't', dims: [3], data: new Float32Array(3) });
    expect(tensorFromProto({ ...base, rawData: new Uint8Array(0), floatData: [1, 2, 3] }).data).toEqual(
      new Float32Array([1, 2, 3]),
    );
    const int8 = { ...base, dataType: DataType.INT8, rawData: new Uint8Array(0), int32Data: [-1, 0, 1] };
    expect(tensorFromProto(int8).data).toEqual(Int8Array.from([-1, 0, 1]));
    const int64 = { ...base, dataType: DataType.INT64, rawData: new Uint8Array(0), int64Data: [5n, -6n, 7n] };
    expect(tensorFromProto(int64).data).toEqual(BigInt64Array.from([5n, -6n, 7n]));
  });

  it('rejects data whose length does not match the dims', () => {
    const t = tensorToProto({ name: 'w', dims: [4], data: new Float32Array(4) });
    expect(() => tensorFromProto({ ...t, dims: [5n] })).toThrow(TensorDataError);
    expect(() => tensorFromProto({ ...t, dims: [5n] })).toThrow(/tensor 'w': raw_data holds 16 bytes/);
  });

  it('rejects external data, naming the tensor and the file', () => {
    const t = tensorToProto({ name: 'fc6.weight', dims: [1], data: new Float32Array(1) });
    const external = {
      ...t,
      rawData: new Uint8Array(0),
      dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: 'vgg16.onnx.data' }],
    };
    expect(() => tensorFromProto(external)).toThrow(ExternalDataError);
    expect(() => tensorFromProto(external)).toThrow(/'fc6.weight' .* 'vgg16.onnx.data'/);
  });
});

describe('GraphView', () => {
  it('indexes producers, consumers, constants and a topological order', () => {
    const model = smallModel();
    const view = new GraphView(model);
    expect(view.order.map((n) => n.name)).toEqual(['conv', 'relu', 'flatten', 'fc']);
    expect(view.producers.get('relu_out')?.name).toBe('relu');
    expect(view.consumers.get('conv_out')?.map((n) => n.name)).toEqual(['relu']);
    expect(view.isConstant('conv.weight')).toBe(true);
    expect(view.constant('fc.bias')?.dims).toEqual([4]);
    expect(view.graphInputs).toEqual(new Set(['x']));
  });

  it('orders nodes listed out of order, and reads Constant nodes as constants', () => {
    const model = smallModel();
    model.graph!.node.reverse();
    expect(new GraphView(model).order.map((n) => n.name)).toEqual(['conv', 'relu', 'flatten', 'fc']);
  });

  it('reports a dangling input and a cycle', () => {
    const dangling = smallModel();
    dangling.graph!.node[1].input = ['nowhere'];
    expect(() => new GraphView(dangling)).toThrow("node 'relu': input 'nowhere' is not produced");
    const cyclic = smallModel();
    cyclic.graph!.node[0].input[0] = 'relu_out';
    expect(() => new GraphView(cyclic)).toThrow(/cycle/);
  });
});

describe('encodeModelChunks', () => {
  // The same message as the generated encoder (field order on the wire differs, which protobuf allows).
  const sameAsGenerated = (model: ReturnType<typeof smallModel>) =>
    expect(ModelProto.decode(encodeModel(model))).toEqual(
      ModelProto.decode(ModelProto.encode(model).finish()),
    );

  it('encodes the same message as the generated encoder, without copying weights', () => {
    const model = smallModel();
    const chunks = encodeModelChunks(model);
    sameAsGenerated(model);
    const conv = model.graph!.initializer.find((t) => t.name === 'conv.weight')!;
    expect(chunks).toContain(conv.rawData); // the same object: referenced, not copied
  });

  it('handles tensors without raw_data and models without initializers', () => {
    const model = smallModel();
    const t = model.graph!.initializer[0];
    model.graph!.initializer[0] = {
      ...t,
      rawData: new Uint8Array(0),
      floatData: Array.from(new Float32Array(t.rawData.buffer, t.rawData.byteOffset, t.rawData.length / 4)),
    };
    sameAsGenerated(model);
    model.graph!.initializer = [];
    sameAsGenerated(model);
  });
});
