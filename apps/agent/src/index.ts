export {
  type LayerOptionMeasurement,
  type ModelProfile,
  modelInputs,
  profileModel,
  ProfilingCancelledError,
  type ProfileJob,
  type ProfileSettings,
} from './profiler';
export { Agent } from './agent';
export { type AgentConfig, parseAgentConfig } from './config';
export { type Verified, verifyModel, type VerifySettings, VERIFY_RUNS } from './verify';
