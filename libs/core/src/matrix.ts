import { InvalidArgumentError } from './errors';

/** A dense row-major float32 matrix: element (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export interface MultiplyOptions {
  /** Use A^T instead of A. @default false */
  readonly transposeA?: boolean;
  /** Use B^T instead of B. @default false */
  readonly transposeB?: boolean;
}

/**
 * Computes matrix products on optimised kernels. Pure numerical code (libs/approx) asks for this
 * interface; libs/runtime implements it with onnxruntime's GEMM, which is far faster than JS loops.
 */
export interface MatrixEngine {
  multiply(a: Matrix, b: Matrix, options?: MultiplyOptions): Promise<Matrix>;
  dispose(): Promise<void>;
}

export function matrix(
  rows: number,
  cols: number,
  data: Float32Array = new Float32Array(rows * cols),
): Matrix {
  if (data.length !== rows * cols) {
    throw new InvalidArgumentError(
      'matrix.data',
      `has ${data.length} values, ${rows} x ${cols} needs ${rows * cols}`,
    );
  }
  return { rows, cols, data };
}

/** The shape of op(A) op(B), checking that the inner dimensions agree. */
export function productShape(
  a: Matrix,
  b: Matrix,
  options: MultiplyOptions = {},
): { rows: number; inner: number; cols: number } {
  const [rows, innerA] = options.transposeA ? [a.cols, a.rows] : [a.rows, a.cols];
  const [innerB, cols] = options.transposeB ? [b.cols, b.rows] : [b.rows, b.cols];
  if (innerA !== innerB) {
    throw new InvalidArgumentError(
      'multiply',
      `inner dimensions differ: ${rows} x ${innerA} times ${innerB} x ${cols}`,
    );
  }
  return { rows, inner: innerA, cols };
}
