import { matrix, type Matrix, type MatrixEngine } from '@blinknet/core';
import { attribute, floatAttribute, intAttribute, type LayerInfo, type NodeProto } from '@blinknet/onnx';
import { type ActivationSource } from './data-aware';
import { type GraphEditor } from './graph-editor';
import { randomizedSvd, type RandomizedSvdOptions, transpose } from './linalg';

export interface TransformContext {
  /** Runs the large matrix products of the SVD. */
  readonly engine: MatrixEngine;
  /** Calibration activations, needed by `lowrank-data` and `int8:compute`. */
  readonly calibration?: ActivationSource;
  readonly svd?: RandomizedSvdOptions;
  /**
   * Accept low-rank factors that cost more than `exact` (up to full rank). Only useful to check the
   * numerics: a full-rank factorisation must reproduce the layer. @default false
   */
  readonly allowAnyRank?: boolean;
  /**
   * Give low-rank factors their shapes but not their values (zeros): enough to time an option on a
   * device, where only shapes matter to dense kernels, without paying for the SVD. @default false
   */
  readonly placeholderFactors?: boolean;
  /**
   * Refit every layer a prune narrows to its original responses on the calibration activations
   * (refitLayer). Only for real data: fitted to random inputs, a layer learns their statistics.
   * @default false
   */
  readonly refitPruned?: boolean;
}

/** Why a layer's structure rules out weight transforms, or undefined when it is supported. */
export function unsupportedStructure(layer: LayerInfo, node: NodeProto): string | undefined {
  if (layer.opType === 'Gemm') {
    if (intAttribute(node, 'transA', 0) !== 0) return 'Gemm with transA = 1';
    if (floatAttribute(node, 'alpha', 1) !== 1 || floatAttribute(node, 'beta', 1) !== 1)
      return 'Gemm with alpha or beta != 1';
  }
  if (layer.opType === 'MatMul' && layer.weightShape.length !== 2)
    return 'MatMul with a batched (non 2-D) weight';
  if (layer.opType === 'Conv' && layer.weightShape.length !== 4) return 'only 2-D convolutions are supported';
  return undefined;
}

/** The stored weight as a matrix: dimension 0 by the rest (Conv: C_out x C_in/g * k * k). */
function weightMatrix(layer: LayerInfo, data: Float32Array): Matrix {
  const [first, ...rest] = layer.weightShape;
  return matrix(
    first,
    rest.reduce((a, b) => a * b, 1),
    data,
  );
}

/** Whether the stored weight's rows are output channels (Conv, Gemm transB=1) or input features. */
export function rowsAreOutputs(layer: LayerInfo, node: NodeProto): boolean {
  return layer.opType === 'Conv' || (layer.opType === 'Gemm' && intAttribute(node, 'transB', 0) === 1);
}

/** The largest useful rank: factors cost less than the layer only while r < m n / (m + n). */
export function maxUsefulRank(layer: LayerInfo): number {
  const [m, ...rest] = layer.weightShape;
  const n = rest.reduce((a, b) => a * b, 1);
  return Math.min(Math.min(m, n), Math.ceil((m * n) / (m + n)) - 1);
}

/**
 * Low-rank factorisation by truncated SVD of the weight, W ≈ U_r S_r V_r^T (Denton et al. 2014;
 * Zhang et al. 2015 for the conv channel decomposition).
 */
export async function applyLowRank(
  editor: GraphEditor,
  layer: LayerInfo,
  node: NodeProto,
  weight: Float32Array,
  rank: number,
  context: TransformContext,
): Promise<void> {
  const w = weightMatrix(layer, weight);
  if (context.placeholderFactors) {
    const [outputs, inputs] = rowsAreOutputs(layer, node) ? [w.rows, w.cols] : [w.cols, w.rows];
    replaceWithFactors(editor, layer, node, matrix(outputs, rank), matrix(rank, inputs));
    return;
  }
  const svd = await randomizedSvd(context.engine, w, rank, context.svd);
  // Factor the stored matrix, then express W (outputs x inputs) = A B with S folded into A.
  const us = matrix(svd.u.rows, rank, svd.u.data.slice());
  for (let i = 0; i < us.rows; i++) for (let j = 0; j < rank; j++) us.data[i * rank + j] *= svd.s[j];
  if (rowsAreOutputs(layer, node)) replaceWithFactors(editor, layer, node, us, svd.vt);
  else {
    // Stored as W^T = (U S) V^T, so W = V (U S)^T.
    replaceWithFactors(editor, layer, node, transpose(svd.vt), transpose(us));
  }
}

/**
 * Replaces a layer by two through an r-wide bottleneck, W ≈ A B with A (outputs x r) and
 * B (r x inputs):
 * - Gemm/MatMul: two Gemm/MatMul nodes, the bias (or `bias` values) on the second;
 * - Conv k x k (group 1): a k x k conv with r filters (same pads, strides, dilations), then a
 *   1 x 1 conv r -> C_out carrying the bias.
 */
export function replaceWithFactors(
  editor: GraphEditor,
  layer: LayerInfo,
  node: NodeProto,
  a: Matrix,
  b: Matrix,
  bias?: Float32Array,
): void {
  const rank = a.cols;
  const x = node.input[0];
  const base = `${node.name || layer.name}/lowrank`;
  const biasInput = bias ? editor.constant(`${base}.bias`, [bias.length], bias) : node.input[2];
  const withBias = (inputs: string[]) => (biasInput ? [...inputs, biasInput] : inputs);
  let first: NodeProto;
  let second: NodeProto;
  if (layer.opType === 'Conv') {
    const [cOut, cIn, ...kernel] = layer.weightShape;
    const w1 = editor.constant(`${base}.w1`, [rank, cIn, ...kernel], b.data);
    const w2 = editor.constant(`${base}.w2`, [cOut, rank, 1, 1], a.data);
    first = editor.makeNode(
      'Conv',
      `${base}_1`,
      [x, w1],
      node.attribute.filter((at) => at.name !== 'group'),
    );
    second = editor.makeNode('Conv', `${base}_2`, withBias([first.output[0], w2]), [
      attribute.ints('kernel_shape', [1, 1]),
    ]);
  } else if (rowsAreOutputs(layer, node)) {
    // Gemm (transB = 1) stores [out, in]: Gemm(X, B, transB=1) then Gemm(., A, transB=1) + C.
    const w1 = editor.constant(`${base}.w1`, [rank, b.cols], b.data);
    const w2 = editor.constant(`${base}.w2`, [a.rows, rank], a.data);
    first = editor.makeNode('Gemm', `${base}_1`, [x, w1], [attribute.int('transB', 1)]);
    second = editor.makeNode('Gemm', `${base}_2`, withBias([first.output[0], w2]), [
      attribute.int('transB', 1),
    ]);
  } else {
    // Gemm (transB = 0) and MatMul store [in, out]: X B^T then (.) A^T.
    const w1 = editor.constant(`${base}.w1`, [b.cols, rank], transpose(b).data);
    const w2 = editor.constant(`${base}.w2`, [rank, a.rows], transpose(a).data);
    first = editor.makeNode(layer.opType, `${base}_1`, [x, w1]);
    if (layer.opType === 'MatMul') {
      // MatMul has no bias input: a data-aware bias correction becomes an Add.
      second = editor.makeNode('MatMul', `${base}_2`, [first.output[0], w2]);
      if (biasInput) {
        const add = editor.makeNode('Add', `${base}_bias`, [second.output[0], biasInput]);
        editor.replace(node, [first, second, { ...add, output: node.output }]);
        return;
      }
    } else second = editor.makeNode('Gemm', `${base}_2`, withBias([first.output[0], w2]));
  }
  editor.replace(node, [first, { ...second, output: node.output }]);
}

/** The axis of the stored weight that indexes output channels. */
export function outputChannelAxis(layer: LayerInfo, node: NodeProto): number {
  return rowsAreOutputs(layer, node) ? 0 : 1;
}
