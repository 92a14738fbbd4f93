import { EigenvalueDecomposition, Matrix as DenseMatrix } from 'ml-matrix';
import { InvalidArgumentError, type Matrix, type MatrixEngine, matrix } from '@blinknet/core';
import { SeededRandom } from '@blinknet/onnx';

/** A truncated SVD: A ≈ u diag(s) vt, with s descending. */
export interface TruncatedSvd {
  /** m x r, orthonormal columns. */
  readonly u: Matrix;
  readonly s: Float64Array;
  /** r x n, orthonormal rows. */
  readonly vt: Matrix;
}

export interface RandomizedSvdOptions {
  /** Extra test vectors beyond the rank (Halko et al. suggest 5-10). @default 10 */
  readonly oversample?: number;
  /**
   * Power iterations; each sharpens a slowly decaying spectrum at the cost of two more products
   * with A. One kept the trained reference layers within 5% of the optimal error (bench:approx). @default 1
   */
  readonly powerIterations?: number;
  /** Seed of the Gaussian test matrix. @default 1 */
  readonly seed?: number;
}

// Relative size under which an eigenvalue of a Gram matrix is treated as zero (float32 products).
const GRAM_EPSILON = 1e-10;

/** Eigen-decomposition of a small symmetric matrix in float64, eigenvalues descending. */
export function symmetricEigen(m: Matrix): { values: Float64Array; vectors: DenseMatrix } {
  const dense = new DenseMatrix(m.rows, m.cols);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) {
      // Symmetrise: float32 products leave tiny asymmetries.
      dense.set(i, j, (m.data[i * m.cols + j] + m.data[j * m.cols + i]) / 2);
    }
  }
  const evd = new EigenvalueDecomposition(dense, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const vectors = new DenseMatrix(m.rows, m.rows);
  order.forEach(([, from], to) => {
    for (let i = 0; i < m.rows; i++) vectors.set(i, to, evd.eigenvectorMatrix.get(i, from));
  });
  return { values: Float64Array.from(order, ([v]) => v), vectors };
}

/** A float32 Matrix from columns `[0, cols)` of a dense float64 matrix, each scaled by `scale[j]`. */
function toMatrix(dense: DenseMatrix, cols = dense.columns, scale?: ArrayLike<number>): Matrix {
  const out = matrix(dense.rows, cols);
  for (let i = 0; i < dense.rows; i++) {
    for (let j = 0; j < cols; j++) out.data[i * cols + j] = dense.get(i, j) * (scale ? scale[j] : 1);
  }
  return out;
}

export function transpose(m: Matrix): Matrix {
  const out = matrix(m.cols, m.rows);
  for (let i = 0; i < m.rows; i++) {
    const row = i * m.cols;
    for (let j = 0; j < m.cols; j++) out.data[j * m.rows + i] = m.data[row + j];
  }
  return out;
}

/**
 * An orthonormal basis of the columns of Y (p x k, k small), through the Gram matrix: Y^T Y = V Λ V^T,
 * Q = Y V Λ^(-1/2), repeated once so that float32 rounding leaves Q orthonormal to working precision
 * (the idea of CholeskyQR2, with an eigen-decomposition that drops numerically null directions
 * instead of failing on them). Both large products run on the engine.
 */
export async function orthonormalize(engine: MatrixEngine, y: Matrix): Promise<Matrix> {
  let q = y;
  for (let pass = 0; pass < 2; pass++) {
    const gram = await engine.multiply(q, q, { transposeA: true });
    const { values, vectors } = symmetricEigen(gram);
    const largest = Math.max(values[0], 0);
    let kept = 0;
    while (kept < values.length && values[kept] > largest * GRAM_EPSILON) kept++;
    if (kept === 0) return matrix(y.rows, 0);
    const scale = Array.from(values.subarray(0, kept), (v) => 1 / Math.sqrt(v));
    q = await engine.multiply(q, toMatrix(vectors, kept, scale));
  }
  return q;
}

/** A p x k matrix of N(0, 1) samples. */
function gaussian(rows: number, cols: number, seed: number): Matrix {
  return matrix(rows, cols, new SeededRandom(seed).fillNormal(new Float32Array(rows * cols), 1));
}

/**
 * Truncated SVD by randomized range finding (Halko, Martinsson & Tropp 2011, "Finding structure with
 * randomness", Algorithms 4.4 and 5.1): every product with A runs on the engine, and only k x k
 * problems (k = rank + oversample) are solved in JS. Works on A or A^T, whichever has fewer rows, so
 * the basis Q is never larger than min(m, n) x k. With rank = min(m, n) the result reconstructs A to
 * float32 precision.
 */
export async function randomizedSvd(
  engine: MatrixEngine,
  a: Matrix,
  rank: number,
  options: RandomizedSvdOptions = {},
): Promise<TruncatedSvd> {
  const short = Math.min(a.rows, a.cols);
  if (!Number.isInteger(rank) || rank < 1 || rank > short) {
    throw new InvalidArgumentError('rank', `must be an integer in [1, ${short}], got ${rank}`);
  }
  // Work on B = A (t = false) or B = A^T (t = true) so that B is p x q with p <= q.
  const t = a.rows > a.cols;
  const p = short;
  const q = t ? a.rows : a.cols;
  const k = Math.min(rank + (options.oversample ?? 10), p);
  const timesB = (x: Matrix) => engine.multiply(a, x, { transposeA: t }); // B x
  const timesBt = (x: Matrix) => engine.multiply(a, x, { transposeA: !t }); // B^T x

  let basis = await orthonormalize(engine, await timesB(gaussian(q, k, options.seed ?? 1)));
  for (let i = 0; i < (options.powerIterations ?? 1); i++) {
    const z = await orthonormalize(engine, await timesBt(basis));
    basis = await orthonormalize(engine, await timesB(z));
  }
  // Small = Q^T B (k x q), computed as (B^T Q)^T.
  const small = transpose(await timesBt(basis));
  const { values, vectors } = symmetricEigen(await engine.multiply(small, small, { transposeB: true }));
  const r = Math.min(rank, basis.cols);
  const sigma = Float64Array.from(values.subarray(0, r), (v) => Math.sqrt(Math.max(v, 0)));
  // V^T = Σ^-1 U_small^T Small; directions with σ ≈ 0 carry nothing and are zeroed.
  const inverse = Array.from(sigma, (s) => (s > sigma[0] * 1e-7 ? 1 / s : 0));
  const vt = await engine.multiply(toMatrix(vectors, r, inverse), small, { transposeA: true });
  const u = await engine.multiply(basis, toMatrix(vectors, r));
  // B = u Σ vt; for A = B^T the roles swap. A numerically rank-deficient A yields r < rank
  // components: pad with zeros so that callers always get the rank they asked for.
  const padded = r === rank ? { u, s: sigma, vt } : padRank({ u, s: sigma, vt }, rank);
  return t ? { u: transpose(padded.vt), s: padded.s, vt: transpose(padded.u) } : padded;
}

function padRank(svd: TruncatedSvd, rank: number): TruncatedSvd {
  const r = svd.s.length;
  const u = matrix(svd.u.rows, rank);
  for (let i = 0; i < svd.u.rows; i++) u.data.set(svd.u.data.subarray(i * r, (i + 1) * r), i * rank);
  const vt = matrix(rank, svd.vt.cols);
  vt.data.set(svd.vt.data);
  const s = new Float64Array(rank);
  s.set(svd.s);
  return { u, s, vt };
}

/** Dense reconstruction u diag(s) vt (for tests and error measurement). */
export async function reconstruct(engine: MatrixEngine, svd: TruncatedSvd): Promise<Matrix> {
  const us = matrix(svd.u.rows, svd.u.cols, svd.u.data.slice());
  for (let i = 0; i < us.rows; i++) for (let j = 0; j < us.cols; j++) us.data[i * us.cols + j] *= svd.s[j];
  return engine.multiply(us, svd.vt);
}

/** ||A - B||_F / ||A||_F. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    diff += d * d;
    norm += a[i] * a[i];
  }
  return Math.sqrt(diff / norm);
}

/**
 * Solves A X = B for a symmetric positive definite A (n x n) and B (n x m), row-major float64, by
 * Cholesky (A = L Lᵀ, then two triangular solves); undefined when A is not positive definite. The
 * loops run along contiguous rows: n³/6 + n²m multiply-adds, about 0.3 s at n = 1152 here.
 */
export function solvePositiveDefinite(
  a: Float64Array,
  n: number,
  b: Float64Array,
  m: number,
): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i !== j) l[i * n + j] = s / l[j * n + j];
      else if (s > 0) l[i * n + i] = Math.sqrt(s);
      else return undefined;
    }
  }
  const x = Float64Array.from(b);
  // L Y = B, row by row.
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      const f = l[i * n + k];
      for (let c = 0; c < m; c++) x[i * m + c] -= f * x[k * m + c];
    }
    for (let c = 0; c < m; c++) x[i * m + c] /= l[i * n + i];
  }
  // Lᵀ X = Y, from the last row up.
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const f = l[k * n + i];
      for (let c = 0; c < m; c++) x[i * m + c] -= f * x[k * m + c];
    }
    for (let c = 0; c < m; c++) x[i * m + c] /= l[i * n + i];
  }
  return x;
}
