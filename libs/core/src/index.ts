export { BlinkNetError, InvalidArgumentError, NotFoundError, PreconditionError, toError } from './errors';
export { LATENCY_PERCENTILES, latencyAt } from './percentiles';
export { BYTES_PER_MB, BYTES_PER_MIB, formatBytes, formatCount } from './units';
export { matrix, type Matrix, type MatrixEngine, type MultiplyOptions, productShape } from './matrix';
export {
  type ParsedSettings,
  parseSettings,
  type SettingSpec,
  settingsUsage,
  type SettingValue,
} from './settings';
