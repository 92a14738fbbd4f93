export {
  type LayerOptionMeasurement,
  type ModelProfile,
  profileModel,
  ProfilingCancelledError,
  type ProfileJob,
  type ProfileSettings,
} from './profiler';
