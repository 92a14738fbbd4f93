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
