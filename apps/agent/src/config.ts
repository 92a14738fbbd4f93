import { hostname } from 'node:os';
import { InvalidArgumentError, parseSettings, type SettingSpec, settingsUsage } from '@blinknet/core';

/** Everything the agent daemon is configured by. */
export interface AgentConfig {
  /** The planner's gRPC address, host:port. */
  readonly planner: string;
  /** The device class this device enrols into (devices of a class share measurements and plans). */
  readonly deviceClass: string;
  /** Where the agent keeps its identity, spooled reports and model store. */
  readonly dataDir: string;
  /** Device name shown to operators. @default the host name */
  readonly name: string;
  /** onnxruntime intra-op threads for profiling and serving. @default 1 (the steadiest timings) */
  readonly threads: number;
  /** The fleet's enrollment secret, needed for the first registration only. */
  readonly enrollmentSecret?: string;
  /** Local inference API: host:port or unix:/path. @default 127.0.0.1:7071 */
  readonly listen: string;
  /** Storage bound of the model store, bytes. @default no bound until a policy sets one */
  readonly storageBytes?: number;
  /** pino level. @default info */
  readonly logLevel: string;
}

/** One table drives flags, environment variables, the config file and --help. */
const FIELDS: Record<keyof AgentConfig, SettingSpec> = {
  planner: { flag: 'planner', env: 'BLINKNET_PLANNER', help: "planner's gRPC address, host:port" },
  deviceClass: {
    flag: 'device-class',
    env: 'BLINKNET_DEVICE_CLASS',
    help: 'device class to enrol into, e.g. rpi4',
  },
  dataDir: {
    flag: 'data-dir',
    env: 'BLINKNET_DATA_DIR',
    help: 'directory for identity, spooled reports and models',
  },
  name: { flag: 'name', env: 'BLINKNET_NAME', help: 'device name (default: host name)' },
  threads: {
    flag: 'threads',
    env: 'BLINKNET_THREADS',
    help: 'onnxruntime intra-op threads (default 1)',
  },
  enrollmentSecret: {
    flag: 'enrollment-secret',
    env: 'BLINKNET_ENROLLMENT_SECRET',
    help: 'fleet enrollment secret (first start only; prefer the env var or config file)',
  },
  listen: {
    flag: 'listen',
    env: 'BLINKNET_LISTEN',
    help: 'local inference API, host:port or unix:/path (default 127.0.0.1:7071)',
  },
  storageBytes: {
    flag: 'storage-bytes',
    env: 'BLINKNET_STORAGE_BYTES',
    help: 'storage bound of the model store, bytes (default: none until a policy sets one)',
  },
  logLevel: {
    flag: 'log-level',
    env: 'BLINKNET_LOG_LEVEL',
    help: 'trace | debug | info | warn | error (default info)',
  },
};

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const CONFIG_ENV = 'BLINKNET_AGENT_CONFIG';

export const AGENT_USAGE = `usage: blinknet-agent --planner HOST:PORT --device-class CLASS --data-dir DIR [options]

The BlinkNet edge agent: registers this device with the planner, profiles layers on request,
installs approximated models and serves them locally within their bounds.

${settingsUsage(FIELDS, CONFIG_ENV)}`;

export type ParsedCommandLine =
  { readonly help: true } | { readonly help: false; readonly config: AgentConfig };

/**
 * Parses the agent's configuration from flags, environment and an optional JSON config file.
 * @throws InvalidArgumentError naming the flag, variable or key that is wrong
 */
export function parseAgentConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string,
): ParsedCommandLine {
  const parsed = parseSettings(FIELDS, CONFIG_ENV, argv, env, readFile);
  if (parsed.help) return { help: true };
  const { values, required, integer } = parsed;
  const planner = required('planner');
  const deviceClass = required('deviceClass');
  const dataDir = required('dataDir');
  const logLevel = values.logLevel?.value ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new InvalidArgumentError(values.logLevel!.source, `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  if (!/^[^\s:]+:\d+$/.test(planner) && !planner.startsWith('unix:')) {
    throw new InvalidArgumentError(
      values.planner!.source,
      `must be host:port or unix:/path, got '${planner}'`,
    );
  }
  return {
    help: false,
    config: {
      planner,
      deviceClass,
      dataDir,
      name: values.name?.value || hostname(),
      threads: integer('threads', 1) ?? 1,
      enrollmentSecret: values.enrollmentSecret?.value,
      listen: values.listen?.value ?? '127.0.0.1:7071',
      storageBytes: integer('storageBytes', 1),
      logLevel,
    },
  };
}
