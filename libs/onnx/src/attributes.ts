import {
  type AttributeProto,
  AttributeProto_AttributeType as AttrType,
  type NodeProto,
} from '@blinknet/proto/onnx';
import { type Tensor, tensorFromProto, tensorToProto, toSafeNumbers } from './tensor';
import { type TensorData } from './dtype';
import { GraphStructureError } from './errors';

export function findAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

function label(node: NodeProto): string {
  return node.name || node.output[0] || node.opType;
}

function need<T>(node: NodeProto, name: string, value: T | undefined): T {
  if (value === undefined) throw new GraphStructureError(`missing required attribute '${name}'`, label(node));
  return value;
}

export function intAttribute(node: NodeProto, name: string, fallback?: number): number {
  const a = findAttribute(node, name);
  return need(node, name, a ? toSafeNumbers([a.i], `${label(node)}.${name}`)[0] : fallback);
}

export function intsAttribute(node: NodeProto, name: string, fallback?: number[]): number[] {
  const a = findAttribute(node, name);
  return need(node, name, a ? toSafeNumbers(a.ints, `${label(node)}.${name}`) : fallback);
}

export function floatAttribute(node: NodeProto, name: string, fallback?: number): number {
  const a = findAttribute(node, name);
  return need(node, name, a ? a.f : fallback);
}

export function stringAttribute(node: NodeProto, name: string, fallback?: string): string {
  const a = findAttribute(node, name);
  return need(node, name, a ? new TextDecoder().decode(a.s) : fallback);
}

export function tensorAttribute(node: NodeProto, name: string): Tensor | undefined {
  const a = findAttribute(node, name);
  return a?.t ? tensorFromProto(a.t) : undefined;
}

function blank(name: string, type: AttrType): AttributeProto {
  return {
    name,
    refAttrName: '',
    docString: '',
    type,
    f: 0,
    i: 0n,
    s: new Uint8Array(0),
    t: undefined,
    g: undefined,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
  };
}

export const attribute = {
  int: (name: string, value: number): AttributeProto => ({ ...blank(name, AttrType.INT), i: BigInt(value) }),
  ints: (name: string, values: readonly number[]): AttributeProto => ({
    ...blank(name, AttrType.INTS),
    ints: values.map(BigInt),
  }),
  float: (name: string, value: number): AttributeProto => ({ ...blank(name, AttrType.FLOAT), f: value }),
  string: (name: string, value: string): AttributeProto => ({
    ...blank(name, AttrType.STRING),
    s: new TextEncoder().encode(value),
  }),
  tensor: (
    name: string,
    tensor: { name: string; dims: readonly number[]; data: TensorData },
  ): AttributeProto => ({
    ...blank(name, AttrType.TENSOR),
    t: tensorToProto(tensor),
  }),
};
