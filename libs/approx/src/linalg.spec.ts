import { SVD, Matrix as DenseMatrix } from 'ml-matrix';
import { matrix, type Matrix } from '@blinknet/core';
import { SeededRandom } from '@blinknet/onnx';
import { OrtMatrixEngine } from '@blinknet/runtime';
import {
  orthonormalize,
  randomizedSvd,
  reconstruct,
  relativeError,
  solvePositiveDefinite,
  transpose,
} from './linalg';

const engine = new OrtMatrixEngine(1);
afterAll(() => engine.dispose());

/** A random m x n matrix with singular values decaying like 1 / (1 + i)^decay. */
function decaying(m: number, n: number, decay: number, seed = 5): Matrix {
  const rng = new SeededRandom(seed);
  const k = Math.min(m, n);
  const random = (rows: number, cols: number) =>
    new DenseMatrix(Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal())));
  const left = random(m, k);
  const right = random(k, n);
  const u = new SVD(left).leftSingularVectors;
  const vt = new SVD(right.transpose()).leftSingularVectors.transpose();
  const a = u.mulRowVector(Array.from({ length: k }, (_, i) => 1 / (1 + i) ** decay)).mmul(vt);
  return matrix(m, n, Float32Array.from(a.to1DArray()));
}

function toDense(a: Matrix): DenseMatrix {
  return new DenseMatrix(
    Array.from({ length: a.rows }, (_, i) => Array.from(a.data.subarray(i * a.cols, (i + 1) * a.cols))),
  );
}

function orthonormalityError(q: Matrix): number {
  const g = toDense(q);
  return g.transpose().mmul(g).sub(DenseMatrix.eye(q.cols)).abs().max();
}

describe('randomizedSvd', () => {
  it.each([
    [60, 40],
    [40, 60],
  ])('reconstructs a %i x %i matrix to float32 precision at full rank', async (m, n) => {
    const a = decaying(m, n, 1);
    const svd = await randomizedSvd(engine, a, Math.min(m, n));
    expect([svd.u.rows, svd.u.cols, svd.vt.rows, svd.vt.cols]).toEqual([
      m,
      Math.min(m, n),
      Math.min(m, n),
      n,
    ]);
    expect(relativeError(a.data, (await reconstruct(engine, svd)).data)).toBeLessThan(1e-5);
  });

  it('matches the exact singular values and the optimal truncation error', async () => {
    const a = decaying(300, 200, 1.5);
    const exact = new SVD(toDense(a));
    for (const rank of [5, 20, 60]) {
      // Eckart-Young: the best rank-r error is sqrt(sum of the discarded sigma^2).
      const discarded = exact.diagonal.slice(rank).reduce((s, v) => s + v * v, 0);
      const optimal = Math.sqrt(discarded / exact.diagonal.reduce((s, v) => s + v * v, 0));
      // Two power iterations: within 1% of optimal; the default one: within 5%.
      for (const [powerIterations, slack] of [
        [2, 1.01],
        [undefined, 1.05],
      ] as const) {
        const svd = await randomizedSvd(engine, a, rank, { powerIterations });
        if (powerIterations === 2)
          for (let i = 0; i < rank; i++) expect(svd.s[i]).toBeCloseTo(exact.diagonal[i], 3);
        const error = relativeError(a.data, (await reconstruct(engine, svd)).data);
        expect(error).toBeLessThan(optimal * slack + 1e-6);
      }
    }
  });

  it('returns orthonormal factors', async () => {
    const svd = await randomizedSvd(engine, decaying(120, 90, 0.5), 30);
    expect(orthonormalityError(svd.u)).toBeLessThan(1e-5);
    expect(orthonormalityError(transpose(svd.vt))).toBeLessThan(1e-5);
  });

  it('pads with zeros when the matrix has lower rank than asked for', async () => {
    const a = matrix(30, 20);
    for (let i = 0; i < 30; i++)
      for (let j = 0; j < 20; j++) a.data[i * 20 + j] = (i + 1) * (j % 3 === 0 ? 1 : 0);
    const svd = await randomizedSvd(engine, a, 5); // rank 1
    expect([svd.u.cols, svd.s.length, svd.vt.rows]).toEqual([5, 5, 5]);
    expect(Array.from(svd.s.subarray(1))).toEqual([0, 0, 0, 0]);
    expect(relativeError(a.data, (await reconstruct(engine, svd)).data)).toBeLessThan(1e-5);
  });

  it('rejects a rank outside [1, min(m, n)]', async () => {
    await expect(randomizedSvd(engine, decaying(10, 8, 1), 9)).rejects.toThrow(
      /rank: must be an integer in \[1, 8\]/,
    );
  });
});

describe('orthonormalize', () => {
  it('drops numerically dependent columns instead of failing', async () => {
    const y = matrix(50, 3);
    for (let i = 0; i < 50; i++) {
      y.data[i * 3] = Math.sin(i);
      y.data[i * 3 + 1] = 2 * Math.sin(i); // dependent on column 0
      y.data[i * 3 + 2] = Math.cos(i);
    }
    const q = await orthonormalize(engine, y);
    expect(q.cols).toBe(2);
    expect(orthonormalityError(q)).toBeLessThan(1e-5);
  });
});

describe('solvePositiveDefinite', () => {
  it('solves A X = B for a random symmetric positive definite A, and refuses an indefinite one', () => {
    const rng = new SeededRandom(3);
    const n = 40;
    const m = 3;
    const r = new DenseMatrix(Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal())));
    const a = r.mmul(r.transpose()).add(DenseMatrix.eye(n).mul(0.1));
    const x = new DenseMatrix(Array.from({ length: n }, () => Array.from({ length: m }, () => rng.normal())));
    const b = a.mmul(x);
    const solved = solvePositiveDefinite(
      Float64Array.from(a.to1DArray()),
      n,
      Float64Array.from(b.to1DArray()),
      m,
    );
    const expected = x.to1DArray();
    solved!.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));

    const indefinite = Float64Array.from(a.to1DArray());
    indefinite[5 * n + 5] = -1;
    expect(solvePositiveDefinite(indefinite, n, Float64Array.from(b.to1DArray()), m)).toBeUndefined();
  });
});
