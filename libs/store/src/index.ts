export { type OpenedDatabase, openDatabase, type PrismaClient } from './database';
export { MigrationError } from './errors';
export { applyMigrations, listMigrations, type Migration, MIGRATIONS_DIR } from './migrations';
export { type ModelVersionInput, saveModelVersion } from './models';
export {
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
export { type DeviceRecord, deviceByTokenHash, fileBySha256, registerDevice } from './devices';
export { completeJobs, enqueueJob, JOB_KINDS, type JobKind, type JobRecord, pendingJobs } from './jobs';
