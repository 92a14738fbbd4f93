export { type OpenedDatabase, openDatabase, type PrismaClient } from './database';
export { MigrationError } from './errors';
export { applyMigrations, listMigrations, type Migration, MIGRATIONS_DIR } from './migrations';
export {
  ACCURACY_STATES,
  type AccuracyState,
  latestModelVersion,
  listModelVersions,
  modelVersionBySha256,
  type ModelVersionInput,
  type ModelVersionRecord,
  saveModelVersion,
  setAccuracyState,
  setOptionEvaluated,
} from './models';
export {
  classMeasurements,
  DEPLOYMENT_STATES,
  type DeploymentState,
  EVENT_KINDS,
  type EventInput,
  type EventKind,
  type IngestResult,
  ingestReport,
  MEASUREMENT_KINDS,
  type MeasurementInput,
  type MeasurementKind,
  type ReportInput,
} from './reports';
export {
  type DeviceClassSummary,
  type DeviceRecord,
  type DeviceSummary,
  deviceByTokenHash,
  fileBySha256,
  listDeviceClasses,
  listDevices,
  registerDevice,
} from './devices';
export {
  completeJobs,
  enqueueJob,
  enqueueJobOnce,
  JOB_KINDS,
  type JobKind,
  type JobRecord,
  pendingJobs,
} from './jobs';
export {
  deletePolicy,
  describeScope,
  getPolicy,
  listPolicies,
  type PolicyInput,
  type PolicyRecord,
  type PolicyScope,
  setPolicy,
} from './policies';
export {
  activePlans,
  createDeployments,
  type DeploymentRecord,
  type LadderArtifact,
  listDeployments,
  newestMeasuredPlans,
  planById,
  type PlanInput,
  plansOfPolicy,
  recordPlanMeasured,
  runtimeEvents,
  type RuntimeEventRecord,
  savePlan,
} from './deployments';
