export {
  type DatasetName,
  FASHION_MNIST_DEFAULT_DIR,
  type ImageDataset,
  type InputLayout,
  loadDataset,
  type LoadOptions,
  MNIST_SPLIT_SEED,
  MNIST_TRAIN_COUNT,
  mnistSplitIndices,
  type Split,
  toInputBatch,
} from './datasets';
export { DatasetError, ReferenceModelError } from './errors';
export { type AccuracyResult, argmaxRows, evaluateAccuracy, type EvaluateOptions } from './evaluate';
export {
  buildCaffeNet,
  buildCifar10Quick,
  buildNetwork,
  buildVgg16,
  defaultCacheDir,
  networkFile,
  type NetworkOptions,
  PAPER_NETWORKS,
  type PaperNetwork,
} from './networks';
export {
  readReferenceModel,
  REFERENCE_MODELS_DIR,
  type ReferenceModel,
  referenceModel,
  referenceModels,
} from './reference-models';
