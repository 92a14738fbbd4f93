import { InvalidArgumentError, parseSettings, type SettingSpec, settingsUsage } from '@blinknet/core';

export interface PlannerConfig {
  /** gRPC port on all interfaces (0: any free port). @default 7070 */
  readonly port: number;
  /** Database, uploaded models and artifacts. */
  readonly dataDir: string;
  /** Secret devices present to enrol; generated and saved under the data dir (0600) when not given. */
  readonly enrollmentSecret?: string;
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
  logLevel: {
    flag: 'log-level',
    env: 'BLINKNET_LOG_LEVEL',
    help: 'trace | debug | info | warn | error (default info)',
  },
};
const CONFIG_ENV = 'BLINKNET_PLANNER_CONFIG';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const PLANNER_USAGE = `usage: blinknet-planner --data-dir DIR [--port 7070] [options]

The BlinkNet planner: enrols devices, stores what they measure, and (coming) plans and deploys
approximated models within each device class's bounds.

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
      logLevel,
    },
  };
}
