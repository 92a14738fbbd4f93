import { InvalidArgumentError, parseSettings, type SettingSpec, settingsUsage } from '@blinknet/core';

export interface PlannerConfig {
  /** gRPC port on all interfaces (0: any free port). @default 7070 */
  readonly port: number;
  /** Database, uploaded models and artifacts. */
  readonly dataDir: string;
  /** Secret devices present to enrol; generated and saved under the data dir (0600) when not given. */
  readonly enrollmentSecret?: string;
  /** Token operators present to the admin API; generated and saved under the data dir (0600) when not given. */
  readonly adminToken?: string;
  /** Most images of the calibration split the accuracy model evaluates each option on. @default 1000 */
  readonly calibrationImages: number;
  /** Deployment rounds of the closed loop before a policy ends failed; 0 turns the loop off. @default 3 */
  readonly maxRounds: number;
  /** Devices each round of the closed loop goes to first; the rest once they meet the bounds. 0: all at once. */
  readonly canaryDevices?: number;
  /** Seconds a device stays stepped down its ladder before the closed loop plans again. @default 60 */
  readonly replanAfterS?: number;
  readonly logLevel: string;
}

const SPECS: Record<keyof PlannerConfig, SettingSpec> = {
  port: { flag: 'port', env: 'BLINKNET_PORT', help: 'gRPC port (default 7070)' },
  dataDir: {
    flag: 'data-dir',
    env: 'BLINKNET_DATA_DIR',
    help: 'directory for the database, models and artifacts',
  },
  enrollmentSecret: {
    flag: 'enrollment-secret',
    env: 'BLINKNET_ENROLLMENT_SECRET',
    help: 'secret devices enrol with (default: generated once, kept in <data-dir>/enrollment-secret)',
  },
  adminToken: {
    flag: 'admin-token',
    env: 'BLINKNET_ADMIN_TOKEN',
    help: 'token for the admin API and the blinknet CLI (default: generated once, kept in <data-dir>/admin-token)',
  },
  calibrationImages: {
    flag: 'calibration-images',
    env: 'BLINKNET_CALIBRATION_IMAGES',
    help: 'most calibration images the accuracy model scores each option on (default 1000)',
  },
  maxRounds: {
    flag: 'max-rounds',
    env: 'BLINKNET_MAX_ROUNDS',
    help: 'deployment rounds the closed loop tries before a policy ends failed (default 3; 0: no loop, deploy by hand)',
  },
  canaryDevices: {
    flag: 'canary-devices',
    env: 'BLINKNET_CANARY_DEVICES',
    help: 'devices of a scope each closed-loop round is deployed to first; the rest get it once those meet the bounds (default 0: all at once)',
  },
  replanAfterS: {
    flag: 'replan-after',
    env: 'BLINKNET_REPLAN_AFTER',
    help: 'seconds a device may stay stepped down its ladder (load the plan was not verified under) before the closed loop plans again (default 60)',
  },
  logLevel: {
    flag: 'log-level',
    env: 'BLINKNET_LOG_LEVEL',
    help: 'trace | debug | info | warn | error (default info)',
  },
};
const CONFIG_ENV = 'BLINKNET_PLANNER_CONFIG';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const PLANNER_USAGE = `usage: blinknet-planner --data-dir DIR [--port 7070] [options]

The BlinkNet planner: enrols devices, stores what they measure, keeps a cost model per device class
and an accuracy model per uploaded model, and plans per-layer approximations within each policy's
bounds. Operators use the admin API through the \`blinknet\` CLI.

${settingsUsage(SPECS, CONFIG_ENV)}`;

/** @throws InvalidArgumentError naming the flag, variable or key that is wrong */
export function parsePlannerConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string,
): { readonly help: true } | { readonly help: false; readonly config: PlannerConfig } {
  const parsed = parseSettings(SPECS, CONFIG_ENV, argv, env, readFile);
  if (parsed.help) return { help: true };
  const { values, required, integer } = parsed;
  const port = integer('port', 0) ?? 7070;
  if (port > 65535) throw new InvalidArgumentError(values.port!.source, `must be <= 65535, got ${port}`);
  const logLevel = values.logLevel?.value ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new InvalidArgumentError(values.logLevel!.source, `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return {
    help: false,
    config: {
      port,
      dataDir: required('dataDir'),
      enrollmentSecret: values.enrollmentSecret?.value,
      adminToken: values.adminToken?.value,
      calibrationImages: integer('calibrationImages', 1) ?? 1000,
      maxRounds: integer('maxRounds', 0) ?? 3,
      canaryDevices: integer('canaryDevices', 0) ?? 0,
      replanAfterS: integer('replanAfterS', 1) ?? 60,
      logLevel,
    },
  };
}
