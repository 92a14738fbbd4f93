export { OptionNotOfferedError, OptionSyntaxError, UnknownLayerError } from './errors';
export { formatOption, type LayerOption, type OptionKind, parseOption } from './options';
export {
  orthonormalize,
  randomizedSvd,
  type RandomizedSvdOptions,
  reconstruct,
  relativeError,
  symmetricEigen,
  transpose,
  type TruncatedSvd,
} from './linalg';
export { calibrateActivation, quantizePerChannel } from './int8';
export { maxUsefulRank, type TransformContext } from './layer-transforms';
export { applyPlan, type OptionCost, optionCost, optionLadder, type Plan, validateModel } from './plan';
export { type ActivationSource } from './data-aware';
export { pruneIsolatedLayer } from './prune';
