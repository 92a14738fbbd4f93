import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@blinknet/core';

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

interface Field {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
}

/** One table drives flags, environment variables, the config file and --help. */
const FIELDS: Record<keyof AgentConfig, Field> = {
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

export const AGENT_USAGE = `usage: blinknet-agent --planner HOST:PORT --device-class CLASS --data-dir DIR [options]

The BlinkNet edge agent: registers this device with the planner, profiles layers on request,
installs approximated models and serves them locally within their bounds.

options (each also from an environment variable, or a key of the JSON config file):
${(Object.entries(FIELDS) as [keyof AgentConfig, Field][])
  .map(
    ([key, f]) => `  --${f.flag.padEnd(18)} ${f.help}\n  ${''.padEnd(20)} env ${f.env}, config key "${key}"`,
  )
  .join('\n')}
  --config FILE        JSON config file (env BLINKNET_AGENT_CONFIG)
  -h, --help           this text

Precedence: flags, then environment, then config file, then defaults.`;

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
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(Object.values(FIELDS).map((f) => [f.flag, { type: 'string' as const }])),
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new InvalidArgumentError('command line', `${(error as Error).message} (see --help)`);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags.help) return { help: true };

  const configPath = (flags.config as string | undefined) ?? env.BLINKNET_AGENT_CONFIG;
  const file = configPath ? readConfigFile(configPath, readFile) : {};
  const raw: Partial<Record<keyof AgentConfig, { value: string; source: string }>> = {};
  for (const [key, field] of Object.entries(FIELDS) as [keyof AgentConfig, Field][]) {
    const flag = flags[field.flag] as string | undefined;
    if (flag !== undefined) raw[key] = { value: flag, source: `--${field.flag}` };
    else if (env[field.env] !== undefined) raw[key] = { value: env[field.env]!, source: field.env };
    else if (file[key] !== undefined) raw[key] = { value: String(file[key]), source: `config key "${key}"` };
  }
  for (const key of ['planner', 'deviceClass', 'dataDir'] as const) {
    if (!raw[key]?.value) {
      const f = FIELDS[key];
      throw new InvalidArgumentError(`--${f.flag}`, `is required (or set ${f.env}); see --help`);
    }
  }
  const number = (key: 'threads' | 'storageBytes', min: number): number | undefined => {
    const entry = raw[key];
    if (!entry) return undefined;
    const n = Number(entry.value);
    if (!Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(entry.source, `must be an integer >= ${min}, got '${entry.value}'`);
    }
    return n;
  };
  const logLevel = raw.logLevel?.value ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new InvalidArgumentError(raw.logLevel!.source, `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const planner = raw.planner!.value;
  if (!/^[^\s:]+:\d+$/.test(planner) && !planner.startsWith('unix:')) {
    throw new InvalidArgumentError(raw.planner!.source, `must be host:port or unix:/path, got '${planner}'`);
  }
  return {
    help: false,
    config: {
      planner,
      deviceClass: raw.deviceClass!.value,
      dataDir: raw.dataDir!.value,
      name: raw.name?.value || hostname(),
      threads: number('threads', 1) ?? 1,
      enrollmentSecret: raw.enrollmentSecret?.value,
      listen: raw.listen?.value ?? '127.0.0.1:7071',
      storageBytes: number('storageBytes', 1),
      logLevel,
    },
  };
}

function readConfigFile(path: string, readFile: (path: string) => string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFile(path));
  } catch (error) {
    throw new InvalidArgumentError('--config', `cannot read '${path}': ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('--config', `'${path}' must hold a JSON object`);
  }
  const unknown = Object.keys(parsed).filter((k) => !(k in FIELDS));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      '--config',
      `unknown key(s) ${unknown.map((k) => `"${k}"`).join(', ')} in '${path}'; known: ${Object.keys(FIELDS).join(', ')}`,
    );
  }
  return parsed as Record<string, unknown>;
}
