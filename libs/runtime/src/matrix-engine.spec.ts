import { matrix } from '@blinknet/core';
import { OrtMatrixEngine } from './matrix-engine';

/** Reference product in float64, for small matrices only. */
function reference(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

const flat = (m: number[][]) => new Float32Array(m.flat());
const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

describe('OrtMatrixEngine', () => {
  const engine = new OrtMatrixEngine(1);
  afterAll(() => engine.dispose());

  const a = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const b = [
    [1, 0, -1, 2],
    [0.5, 1, 0, 0],
    [2, -2, 1, 1],
  ];

  it('multiplies, with every transpose combination', async () => {
    const expected = reference(a, b).flat();
    const cases = [
      [matrix(2, 3, flat(a)), matrix(3, 4, flat(b)), {}],
      [matrix(3, 2, flat(transpose(a))), matrix(3, 4, flat(b)), { transposeA: true }],
      [matrix(2, 3, flat(a)), matrix(4, 3, flat(transpose(b))), { transposeB: true }],
      [
        matrix(3, 2, flat(transpose(a))),
        matrix(4, 3, flat(transpose(b))),
        { transposeA: true, transposeB: true },
      ],
    ] as const;
    for (const [x, y, options] of cases) {
      const c = await engine.multiply(x, y, options);
      expect([c.rows, c.cols]).toEqual([2, 4]);
      expect(Array.from(c.data)).toEqual(expected);
    }
  });

  it('agrees with a float64 reference on a larger random product', async () => {
    const m = 70,
      k = 130,
      n = 50;
    const x = Array.from({ length: m }, (_, i) => Array.from({ length: k }, (_, j) => Math.sin(i * 7 + j)));
    const y = Array.from({ length: k }, (_, i) => Array.from({ length: n }, (_, j) => Math.cos(i * 3 - j)));
    const c = await engine.multiply(matrix(m, k, flat(x)), matrix(k, n, flat(y)));
    const expected = reference(x, y).flat();
    const maxError = Math.max(...expected.map((v, i) => Math.abs(v - c.data[i])));
    expect(maxError).toBeLessThan(1e-3);
  });

  it('rejects mismatched inner dimensions', async () => {
    await expect(engine.multiply(matrix(2, 3), matrix(2, 3))).rejects.toThrow(/inner dimensions differ/);
  });
});
