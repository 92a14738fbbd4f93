export {
  type Command,
  type CommandLine,
  type CommandName,
  DATASETS,
  DEFAULT_PLANNER,
  type GlobalOptions,
  megabytesToBytes,
  parseCommandLine,
  positiveNumber,
} from './args';
export { type CliIO, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from './cli';
export { AdminClient, type AdminApi, UPLOAD_CHUNK_BYTES } from './client';
export { type CommandIO, runCommand } from './commands';
export { PlannerCallError, UsageError } from './errors';
export {
  renderClasses,
  renderDeletedPolicy,
  renderDeploy,
  renderDevices,
  renderJson,
  renderModels,
  renderPlan,
  renderPolicy,
  renderRollback,
  renderSetPolicy,
  renderStatus,
  renderUpload,
  table,
} from './format';
