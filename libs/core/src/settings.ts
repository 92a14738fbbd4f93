import { parseArgs } from 'node:util';
import { InvalidArgumentError } from './errors';

/** One setting of a command: its flag, environment variable and help line. */
export interface SettingSpec {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
}

/** A raw setting value and where it came from (to name it in errors). */
export interface SettingValue {
  readonly value: string;
  readonly source: string;
}

export type ParsedSettings<K extends string> =
  | { readonly help: true }
  | {
      readonly help: false;
      readonly values: Partial<Record<K, SettingValue>>;
      /** The value of a required setting. @throws InvalidArgumentError when it is missing */
      readonly required: (key: K) => string;
      /** An integer setting >= min, or undefined. @throws InvalidArgumentError when it is not one */
      readonly integer: (key: K, min: number) => number | undefined;
    };

/**
 * Layered settings of a command: flags, then environment variables, then keys of a JSON config file
 * (`--config FILE` or the `configEnv` variable), then the caller's defaults. Unknown flags and unknown
 * config keys are errors; every error names the flag, variable or key at fault.
 * @throws InvalidArgumentError
 */
export function parseSettings<K extends string>(
  specs: Readonly<Record<K, SettingSpec>>,
  configEnv: string,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): ParsedSettings<K> {
  const entries = Object.entries(specs) as [K, SettingSpec][];
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(entries.map(([, s]) => [s.flag, { type: 'string' as const }])),
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new InvalidArgumentError('command line', `${(error as Error).message} (see --help)`);
  }
  if (flags.help) return { help: true };
  const configPath = (flags.config as string | undefined) ?? env[configEnv];
  const file = configPath ? readConfigFile(configPath, readFile, Object.keys(specs)) : {};
  const values: Partial<Record<K, SettingValue>> = {};
  for (const [key, spec] of entries) {
    const flag = flags[spec.flag] as string | undefined;
    if (flag !== undefined) values[key] = { value: flag, source: `--${spec.flag}` };
    else if (env[spec.env] !== undefined) values[key] = { value: env[spec.env]!, source: spec.env };
    else if (file[key] !== undefined)
      values[key] = { value: String(file[key]), source: `config key "${key}"` };
  }
  return {
    help: false,
    values,
    required: (key) => {
      const value = values[key]?.value;
      if (!value) {
        const spec = specs[key];
        throw new InvalidArgumentError(`--${spec.flag}`, `is required (or set ${spec.env}); see --help`);
      }
      return value;
    },
    integer: (key, min) => {
      const entry = values[key];
      if (!entry) return undefined;
      const n = Number(entry.value);
      if (!Number.isInteger(n) || n < min) {
        throw new InvalidArgumentError(entry.source, `must be an integer >= ${min}, got '${entry.value}'`);
      }
      return n;
    },
  };
}

/** The options part of a command's --help, from its settings. */
export function settingsUsage(specs: Readonly<Record<string, SettingSpec>>, configEnv: string): string {
  return `options (each also from an environment variable, or a key of the JSON config file):
${Object.entries(specs)
  .map(
    ([key, s]) => `  --${s.flag.padEnd(18)} ${s.help}\n  ${''.padEnd(20)} env ${s.env}, config key "${key}"`,
  )
  .join('\n')}
  --config FILE        JSON config file (env ${configEnv})
  -h, --help           this text

Precedence: flags, then environment, then config file, then defaults.`;
}

function readConfigFile(
  path: string,
  readFile: (path: string) => string,
  known: readonly string[],
): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFile(path));
  } catch (error) {
    throw new InvalidArgumentError('--config', `cannot read '${path}': ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('--config', `'${path}' must hold a JSON object`);
  }
  const unknown = Object.keys(parsed).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      '--config',
      `unknown key(s) ${unknown.map((k) => `"${k}"`).join(', ')} in '${path}'; known: ${known.join(', ')}`,
    );
  }
  return parsed as Record<string, unknown>;
}
