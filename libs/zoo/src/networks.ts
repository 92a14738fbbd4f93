import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@blinknet/core';
import { ModelBuilder, type ModelProto, writeModel } from '@blinknet/onnx';

/** The networks the BlinkNet paper evaluates, as their original Caffe definitions. */
export type PaperNetwork = 'caffenet' | 'cifar10-quick' | 'vgg16';
export const PAPER_NETWORKS: readonly PaperNetwork[] = ['cifar10-quick', 'caffenet', 'vgg16'];

export interface NetworkOptions {
  /** Seed of the He-initialised weights. @default 1 */
  readonly seed?: number;
}

/**
 * BVLC reference CaffeNet (models/bvlc_reference_caffenet/deploy.prototxt): AlexNet with pooling
 * before normalisation, 227x227x3, grouped conv2/4/5, fc6/fc7 4096, fc8 1000, softmax `prob`.
 */
export function buildCaffeNet(options: NetworkOptions = {}): ModelProto {
  const b = new ModelBuilder({ name: 'caffenet', seed: options.seed });
  let x = b.input('data', [1, 3, 227, 227]);
  const lrn = (t: string, name: string) => b.lrn(t, name, 5, 1e-4, 0.75);
  x = b.relu(b.conv(x, { name: 'conv1', outChannels: 96, kernel: 11, stride: 4 }), 'relu1');
  x = lrn(b.maxPool(x, 'pool1', { kernel: 3, stride: 2, ceil: true }), 'norm1');
  x = b.relu(b.conv(x, { name: 'conv2', outChannels: 256, kernel: 5, pad: 2, group: 2 }), 'relu2');
  x = lrn(b.maxPool(x, 'pool2', { kernel: 3, stride: 2, ceil: true }), 'norm2');
  x = b.relu(b.conv(x, { name: 'conv3', outChannels: 384, kernel: 3, pad: 1 }), 'relu3');
  x = b.relu(b.conv(x, { name: 'conv4', outChannels: 384, kernel: 3, pad: 1, group: 2 }), 'relu4');
  x = b.relu(b.conv(x, { name: 'conv5', outChannels: 256, kernel: 3, pad: 1, group: 2 }), 'relu5');
  x = b.flatten(b.maxPool(x, 'pool5', { kernel: 3, stride: 2, ceil: true }), 'flatten');
  x = b.dropout(b.relu(b.gemm(x, 'fc6', 4096), 'relu6'), 'drop6');
  x = b.dropout(b.relu(b.gemm(x, 'fc7', 4096), 'relu7'), 'drop7');
  b.output(b.softmax(b.gemm(x, 'fc8', 1000), 'prob'));
  return b.build();
}

/**
 * Caffe's examples/cifar10/cifar10_quick.prototxt: 32x32x3; Caffe pooling rounds output sizes up,
 * so 32 -> 16 -> 8 -> 4 and ip1 sees 64 x 4 x 4. There is no non-linearity between ip1 and ip2.
 */
export function buildCifar10Quick(options: NetworkOptions = {}): ModelProto {
  const b = new ModelBuilder({ name: 'cifar10-quick', seed: options.seed });
  let x = b.input('data', [1, 3, 32, 32]);
  x = b.conv(x, { name: 'conv1', outChannels: 32, kernel: 5, pad: 2 });
  x = b.relu(b.maxPool(x, 'pool1', { kernel: 3, stride: 2, ceil: true }), 'relu1');
  x = b.relu(b.conv(x, { name: 'conv2', outChannels: 32, kernel: 5, pad: 2 }), 'relu2');
  x = b.averagePool(x, 'pool2', { kernel: 3, stride: 2, ceil: true });
  x = b.relu(b.conv(x, { name: 'conv3', outChannels: 64, kernel: 5, pad: 2 }), 'relu3');
  x = b.flatten(b.averagePool(x, 'pool3', { kernel: 3, stride: 2, ceil: true }), 'flatten');
  x = b.gemm(b.gemm(x, 'ip1', 64), 'ip2', 10);
  b.output(b.softmax(x, 'prob'));
  return b.build();
}

/** VGG16, configuration D of Simonyan & Zisserman 2015 (VGG_ILSVRC_16_layers_deploy.prototxt), 224x224x3. */
export function buildVgg16(options: NetworkOptions = {}): ModelProto {
  const b = new ModelBuilder({ name: 'vgg16', seed: options.seed });
  let x = b.input('data', [1, 3, 224, 224]);
  const blocks: [number, number][] = [
    [64, 2],
    [128, 2],
    [256, 3],
    [512, 3],
    [512, 3],
  ];
  blocks.forEach(([channels, convs], i) => {
    for (let j = 1; j <= convs; j++) {
      const name = `conv${i + 1}_${j}`;
      x = b.relu(b.conv(x, { name, outChannels: channels, kernel: 3, pad: 1 }), `relu${i + 1}_${j}`);
    }
    x = b.maxPool(x, `pool${i + 1}`, { kernel: 2, stride: 2 });
  });
  x = b.flatten(x, 'flatten');
  x = b.dropout(b.relu(b.gemm(x, 'fc6', 4096), 'relu6'), 'drop6');
  x = b.dropout(b.relu(b.gemm(x, 'fc7', 4096), 'relu7'), 'drop7');
  b.output(b.softmax(b.gemm(x, 'fc8', 1000), 'prob'));
  return b.build();
}

const BUILDERS: Record<PaperNetwork, (options: NetworkOptions) => ModelProto> = {
  caffenet: buildCaffeNet,
  'cifar10-quick': buildCifar10Quick,
  vgg16: buildVgg16,
};

export function buildNetwork(name: PaperNetwork, options: NetworkOptions = {}): ModelProto {
  const build = BUILDERS[name];
  if (!build)
    throw new InvalidArgumentError('network', `unknown network '${name}' (${PAPER_NETWORKS.join(', ')})`);
  return build(options);
}

/** The workspace's cache of built models: $BLINKNET_CACHE_DIR or <repo>/.cache (git-ignored). */
export function defaultCacheDir(): string {
  return process.env['BLINKNET_CACHE_DIR'] ?? join(__dirname, '..', '..', '..', '.cache');
}

/**
 * The path of a paper network's ONNX file, building it on first use. Large networks (VGG16 is
 * 553 MB) are never committed; the file name carries the seed so that variants do not collide.
 */
export function networkFile(
  name: PaperNetwork,
  options: NetworkOptions & { cacheDir?: string } = {},
): string {
  const dir = join(options.cacheDir ?? defaultCacheDir(), 'zoo');
  const path = join(dir, `${name}-seed${options.seed ?? 1}.onnx`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeModel(path, buildNetwork(name, options));
  }
  return path;
}
