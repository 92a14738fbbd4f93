import { parseArgs } from 'node:util';
import { BYTES_PER_MB } from '@blinknet/core';
import { type Policy, type PolicyScope } from '@blinknet/proto/v1/admin';
import { UsageError } from './errors';

export const DEFAULT_PLANNER = '127.0.0.1:7070';
/** Deadline of one call. */
export const DEFAULT_TIMEOUT_S = 30;
/**
 * Deadline of the calls that wait for the planner's work: an upload for it to check and load the
 * model, a deploy for it to build every artifact of the ladder and measure its accuracy.
 */
export const LONG_TIMEOUT_S = 600;
const LONG_CALLS: readonly CommandName[] = ['models upload', 'deploy'];
/** How often `status --watch` asks again. */
export const WATCH_INTERVAL_MS = 2000;
/** Labelled data sets the planner's accuracy model knows (admin.proto, UploadHeader.dataset_id). */
export const DATASETS = ['mnist', 'fashion-mnist'] as const;

/** What to do, with every value checked and converted to the units of admin.proto (bytes, ms). */
export type Command =
  | {
      readonly name: 'models upload';
      readonly file: string;
      readonly model: string;
      /** Empty: the planner measures top-1 agreement with the original model on `inputs` or random inputs. */
      readonly datasetId: string;
      /** A file of float32 samples of the model's input shape, for agreement; undefined: none. */
      readonly inputs?: string;
    }
  | { readonly name: 'models ls' }
  | { readonly name: 'devices ls'; /** empty: every class */ readonly deviceClass: string }
  | { readonly name: 'classes ls' }
  | { readonly name: 'policy set'; readonly policy: Policy }
  | {
      readonly name: 'policy get' | 'policy rm' | 'plan preview' | 'deploy' | 'rollback';
      readonly scope: PolicyScope;
    }
  | {
      readonly name: 'status';
      /** Undefined: the newest deployment of every device and model. */
      readonly scope: PolicyScope | undefined;
      /** Ask again every WATCH_INTERVAL_MS until every policy's loop and every deployment has ended. */
      readonly watch: boolean;
    };

export type CommandName = Command['name'];

export interface GlobalOptions {
  /** HOST:PORT of the planner's gRPC server. */
  readonly planner: string;
  readonly token: string;
  readonly json: boolean;
  /** Deadline of each call to the planner. */
  readonly timeoutMs: number;
}

/** A parsed command line: either usage text to print (for --help), or a command to run. */
export type CommandLine =
  | { readonly help: string }
  | { readonly help?: undefined; readonly command: Command; readonly options: GlobalOptions };

interface FlagSpec {
  /** Placeholder of the flag's value in usage text; absent for a boolean flag. */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly short?: string;
  readonly help: string;
}

type Flags = Readonly<Record<string, FlagSpec>>;
/** What parseArgs returns for them. */
type FlagValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

const GLOBAL_FLAGS: Flags = {
  planner: {
    value: 'HOST:PORT',
    help: `the planner's address (env BLINKNET_PLANNER; default ${DEFAULT_PLANNER})`,
  },
  token: { value: 'T', help: "the planner's admin token (env BLINKNET_ADMIN_TOKEN)" },
  'token-file': {
    value: 'PATH',
    help: 'read the admin token from a file, e.g. <planner data-dir>/admin-token',
  },
  'timeout-s': {
    value: 'S',
    help: `deadline of a call in seconds (default ${DEFAULT_TIMEOUT_S}; ${LONG_TIMEOUT_S} for ${LONG_CALLS.join(' and ')})`,
  },
  json: { help: "print the planner's responses as JSON (64-bit integers as numbers)" },
  help: { short: 'h', help: 'this text' },
};

const SCOPE_FLAGS: Flags = {
  class: { value: 'C', help: 'a device class (its devices that have no policy of their own)' },
  device: { value: 'ID', help: "one device, by id (it then ignores its class's policy)" },
};

/** What a command's builder sees: its positionals and flag values, read with checks that name the flag. */
class Input {
  constructor(
    readonly command: CommandName,
    private readonly values: FlagValues,
    readonly positionals: readonly string[],
  ) {}

  fail(field: string, message: string): never {
    throw new UsageError(field, message, this.command);
  }

  /** A non-empty string flag, or undefined when absent. */
  string(flag: string): string | undefined {
    const value = this.values[flag] as string | undefined;
    if (value !== undefined && value.trim() === '') this.fail(`--${flag}`, 'must not be empty');
    return value;
  }

  required(flag: string): string {
    return this.string(flag) ?? this.fail(`--${flag}`, 'is required');
  }

  list(flag: string): string[] {
    const values = (this.values[flag] as string[] | undefined) ?? [];
    for (const value of values) if (value.trim() === '') this.fail(`--${flag}`, 'must not be empty');
    return values;
  }

  /** A number > 0 (and <= max when given), or undefined when absent. */
  positive(flag: string, what: string, max?: number): number | undefined {
    const raw = this.string(flag);
    return raw === undefined ? undefined : positiveNumber(raw, `--${flag}`, what, this.command, max);
  }

  /** A size in MB (10^6 bytes) converted to whole bytes, or undefined when absent. */
  bytes(flag: string): number | undefined {
    const mb = this.positive(flag, 'a number of MB (10^6 bytes)');
    return mb === undefined ? undefined : megabytesToBytes(mb, `--${flag}`, this.command);
  }

  /** Exactly one of --class and --device. */
  scope(): PolicyScope {
    return this.optionalScope() ?? this.fail('--class', 'one of --class C or --device ID is required');
  }

  /** One of --class and --device, or undefined when neither is given. */
  optionalScope(): PolicyScope | undefined {
    const deviceClass = this.string('class');
    const deviceId = this.string('device');
    if (deviceClass !== undefined && deviceId !== undefined) {
      this.fail(
        '--class',
        'give --class or --device, not both: a policy applies to a class or to one device',
      );
    }
    if (deviceClass !== undefined) return { deviceClass };
    if (deviceId !== undefined) return { deviceId };
    return undefined;
  }

  boolean(flag: string): boolean {
    return this.values[flag] === true;
  }
}

interface CommandSpec {
  /** Usage after `blinknet <name>`. */
  readonly synopsis: string;
  readonly summary: string;
  readonly description: string;
  readonly flags: Flags;
  /** How many positionals it takes (after the command's own words). */
  readonly positionals: number;
  readonly build: (input: Input) => Command;
}

const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  'models upload': {
    synopsis: '<file.onnx> --name NAME [--dataset mnist|fashion-mnist | --inputs FILE]',
    summary: 'upload an ONNX model',
    description: `Streams the file to the planner, which checks its size and sha256, decodes it and loads it
with onnxruntime before storing it. Uploading the same bytes again is harmless: the planner returns the
stored version. The accuracy model is then computed in the background: see 'blinknet models ls'.`,
    flags: {
      name: { value: 'NAME', help: 'the model name policies refer to, e.g. lenet5' },
      dataset: {
        value: 'D',
        help: `labelled data to measure accuracy on: ${DATASETS.join(' | ')}\n(default: agreement with the original model's top-1 on random inputs)`,
      },
      inputs: {
        value: 'FILE',
        help: "without --dataset: float32 little-endian samples of the model's input shape\n(agreement with the original; half calibrates, half is held out)",
      },
    },
    positionals: 1,
    build: (input) => {
      const [file] = input.positionals;
      if (file.trim() === '') input.fail('<file.onnx>', 'must not be empty');
      const datasetId = input.string('dataset') ?? '';
      if (datasetId !== '' && !(DATASETS as readonly string[]).includes(datasetId)) {
        input.fail('--dataset', `must be one of ${DATASETS.join(', ')}, got '${datasetId}'`);
      }
      const inputs = input.string('inputs');
      if (inputs !== undefined && datasetId !== '')
        input.fail('--inputs', 'give --inputs or --dataset, not both');
      if (inputs !== undefined && inputs.trim() === '') input.fail('--inputs', 'must not be empty');
      return { name: 'models upload', file, model: input.required('name'), datasetId, inputs };
    },
  },
  'models ls': {
    synopsis: '',
    summary: 'list uploaded model versions',
    description: `Every uploaded version, newest first per model, with its approximable layers, the options of
its ladder and the state of its accuracy model (pending with progress, ready with the original
model's held-out accuracy, or failed with why).`,
    flags: {},
    positionals: 0,
    build: () => ({ name: 'models ls' }),
  },
  'devices ls': {
    synopsis: '[--class C]',
    summary: 'list enrolled devices',
    description: 'Every enrolled device with when it was last seen, its measurements and its pending jobs.',
    flags: { class: { value: 'C', help: 'only the devices of this class' } },
    positionals: 0,
    build: (input) => ({ name: 'devices ls', deviceClass: input.string('class') ?? '' }),
  },
  'classes ls': {
    synopsis: '',
    summary: 'list device classes',
    description:
      'Every device class with its devices, its measurements, the models profiled in it and whether\nit has a policy.',
    flags: {},
    positionals: 0,
    build: () => ({ name: 'classes ls' }),
  },
  'policy set': {
    synopsis: '(--class C | --device ID) --model M [--model M2 ...] [bounds ...]',
    summary: 'create or replace a bound policy',
    description: `Creates or replaces the policy of a device class or of one device: which models run there, one
after another, and the bounds they must meet together. Every bound is optional and must be positive.
Devices in scope are asked to profile the models their class has not measured yet.`,
    flags: {
      ...SCOPE_FLAGS,
      model: {
        value: 'M',
        multiple: true,
        help: 'a model (its latest upload) to run; repeatable, in running order',
      },
      'model-latency-ms': {
        value: 'M=MS',
        multiple: true,
        help: "one model's own latency bound in ms, e.g. lenet5=8; repeatable",
      },
      'latency-ms': { value: 'MS', help: 'latency bound of one round of every model, in milliseconds' },
      percentile: {
        value: 'P',
        help: 'the percentile the latency bounds hold for, in (0, 100] (default 95)',
      },
      'memory-mb': { value: 'MB', help: 'resident memory of all the models together, in MB (10^6 bytes)' },
      'storage-mb': { value: 'MB', help: 'artifact size of all the models together, in MB (10^6 bytes)' },
      'accuracy-floor': {
        value: 'F',
        help: 'lowest predicted accuracy of every model, in (0, 1]: 0.9 = 90%',
      },
      margin: {
        value: 'F',
        help: 'plan for F x each latency bound where it can (default 0.9: 10% headroom)',
      },
    },
    positionals: 0,
    build: (input) => ({ name: 'policy set', policy: buildPolicy(input) }),
  },
  'policy get': {
    synopsis: '(--class C | --device ID)',
    summary: 'show a policy',
    description: 'Shows the policy of a device class or of one device.',
    flags: SCOPE_FLAGS,
    positionals: 0,
    build: (input) => ({ name: 'policy get', scope: input.scope() }),
  },
  'policy rm': {
    synopsis: '(--class C | --device ID)',
    summary: 'delete a policy',
    description: 'Deletes the policy of a device class or of one device.',
    flags: SCOPE_FLAGS,
    positionals: 0,
    build: (input) => ({ name: 'policy rm', scope: input.scope() }),
  },
  'plan preview': {
    synopsis: '(--class C | --device ID)',
    summary: 'solve a policy without deploying it',
    description: `Solves the policy on its class's measured latencies and the models' accuracy models, and shows
the option chosen for every layer with why, the predicted figures against the original model's, and
the totals; or, when the bounds cannot all be met, which are out of reach and the tightest figures
achievable. Nothing is deployed. Fails with FAILED_PRECONDITION while the class has no measurements
or an accuracy model is not ready.`,
    flags: SCOPE_FLAGS,
    positionals: 0,
    build: (input) => ({ name: 'plan preview', scope: input.scope() }),
  },
  deploy: {
    synopsis: '(--class C | --device ID)',
    summary: 'deploy the plan of a policy to its devices',
    description: `Solves the policy of a device class or of one device, builds the plan's artifacts and its ladder
(tighter variants the devices step down to under load, as many as the storage bound allows), measures
each artifact's accuracy on the held-out split, and queues one deployment per device in scope and
model. Shows the plan as 'blinknet plan preview' does and the deployments queued; follow them with
'blinknet status --watch'. Fails with FAILED_PRECONDITION when no plan meets the bounds (the message
names them), the class has no measurements yet or no device is in scope. Building takes a while: the
deadline is ${LONG_TIMEOUT_S} s unless --timeout-s says otherwise.`,
    flags: SCOPE_FLAGS,
    positionals: 0,
    build: (input) => ({ name: 'deploy', scope: input.scope() }),
  },
  status: {
    synopsis: '[--class C | --device ID] [--watch]',
    summary: 'show policy loops and deployments, predicted beside measured',
    description: `Where the closed loop of every policy (or of one) stands: waiting for profiles and accuracy
models, deploying a round (how many deployments are in flight), converged in a round, failed (bounds
not met after the last round) or infeasible (which bounds are out of reach). Then the newest
deployment of every device and model, or only those of one policy: its state, the plan's round, the
figures predicted beside those measured (latency p95 and memory on the device, storage of its whole
ladder, accuracy on the held-out split; '-' until known), the rungs of its ladder, and the bounds the
device found violated or why it failed. Fails with NOT_FOUND when the class or device has no policy.`,
    flags: {
      class: { value: 'C', help: "only this device class's policy: its loop and deployments" },
      device: { value: 'ID', help: "only this device's own policy: its loop and deployments" },
      watch: {
        help: `ask again every ${WATCH_INTERVAL_MS / 1000} s, showing the status whenever a state changes,
until every policy's loop has converged, failed or is infeasible and every
deployment is active, failed or rolled-back; with --json, print only the
last answer`,
      },
    },
    positionals: 0,
    build: (input) => ({ name: 'status', scope: input.optionalScope(), watch: input.boolean('watch') }),
  },
  rollback: {
    synopsis: '(--class C | --device ID)',
    summary: 'deploy the previous plan again',
    description: `Deploys again the newest earlier plan of the policy of a device class or of one device that was
active on every device it went to, and shows the deployments queued. Fails with FAILED_PRECONDITION
when there is none.`,
    flags: SCOPE_FLAGS,
    positionals: 0,
    build: (input) => ({ name: 'rollback', scope: input.scope() }),
  },
};

const NAMES = Object.keys(COMMANDS) as CommandName[];
/** First words of the two-word commands (`models` of `models upload`); the others stand alone (`deploy`). */
const GROUPS = [...new Set(NAMES.filter((name) => name.includes(' ')).map((name) => name.split(' ')[0]))];

function buildPolicy(input: Input): Policy {
  const scope = input.scope();
  const models = input.list('model');
  if (models.length === 0) input.fail('--model', 'at least one model is required');
  const repeated = models.find((model, i) => models.indexOf(model) !== i);
  if (repeated !== undefined) input.fail('--model', `'${repeated}' is named twice`);
  const modelLatencyMs = new Map<string, number>();
  for (const entry of input.list('model-latency-ms')) {
    const equals = entry.lastIndexOf('=');
    if (equals <= 0) input.fail('--model-latency-ms', `expects MODEL=MS, e.g. lenet5=8, got '${entry}'`);
    const model = entry.slice(0, equals);
    if (!models.includes(model)) {
      input.fail('--model-latency-ms', `'${model}' is not one of the --model names (${models.join(', ')})`);
    }
    if (modelLatencyMs.has(model)) input.fail('--model-latency-ms', `'${model}' has two bounds`);
    const ms = positiveNumber(
      entry.slice(equals + 1),
      '--model-latency-ms',
      'a number of milliseconds',
      input.command,
    );
    modelLatencyMs.set(model, ms);
  }
  return {
    scope,
    models: models.map((model) => ({ model, latencyMs: modelLatencyMs.get(model) })),
    totalLatencyMs: input.positive('latency-ms', 'a number of milliseconds'),
    latencyPercentile: input.positive('percentile', 'a percentile', 100) ?? 0, // 0: the planner's default, 95
    memoryBytes: input.bytes('memory-mb'),
    storageBytes: input.bytes('storage-mb'),
    accuracyFloor: input.positive('accuracy-floor', 'a fraction: 0.9 = 90%', 1),
    latencyMargin: input.positive('margin', 'a fraction: 0.9 = 10% headroom', 1),
  };
}

/** Plain decimals only: no hex, no Infinity, no empty string (which Number() would read as 0). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** `what` names what is expected ("a number of milliseconds"). @throws UsageError unless `raw` is a decimal in (0, max] */
export function positiveNumber(
  raw: string,
  field: string,
  what: string,
  command: CommandName | '' = '',
  max = Number.MAX_VALUE,
): number {
  const value = Number(raw.trim());
  if (!DECIMAL.test(raw.trim()) || !Number.isFinite(value)) {
    throw new UsageError(field, `must be ${what}, got '${raw}'`, command);
  }
  if (value <= 0) throw new UsageError(field, `must be greater than 0, got '${raw}'`, command);
  if (value > max) throw new UsageError(field, `must be at most ${max} (${what}), got '${raw}'`, command);
  return value;
}

/**
 * MB (10^6 bytes) to whole bytes. Rounding absorbs binary floating-point error (0.57 x 10^6 is
 * 569999.99...), so every size given with up to 6 decimals converts exactly.
 * @throws UsageError when the size is under one byte or beyond what a double holds exactly
 */
export function megabytesToBytes(mb: number, field: string, command: CommandName | '' = ''): number {
  const bytes = Math.round(mb * BYTES_PER_MB);
  if (bytes < 1) throw new UsageError(field, `${mb} MB is less than one byte`, command);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(field, `${mb} MB is too large`, command);
  return bytes;
}

/**
 * Parses `blinknet`'s arguments (without `node` and the script). Global flags go anywhere on the line.
 * `readFile` reads --token-file. Nothing is sent anywhere.
 * @throws UsageError naming the flag, argument or variable at fault
 */
export function parseCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): CommandLine {
  // One parse with every flag of every command, so global flags may come before or after the command;
  // flags that belong to another command are refused below, once the command is known.
  const allFlags: Flags = Object.assign({}, GLOBAL_FLAGS, ...NAMES.map((name) => COMMANDS[name].flags));
  const options = Object.fromEntries(
    Object.entries(allFlags).map(([flag, spec]) => [
      flag,
      {
        type: spec.value === undefined ? ('boolean' as const) : ('string' as const),
        multiple: spec.multiple === true,
        ...(spec.short ? { short: spec.short } : {}),
      },
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, allFlags),
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    if (!String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw error;
    // Node's message, without its advice on positionals that start with '-' (none do here).
    const message = (error as Error).message
      .replace(/\. To specify a positional.*$/s, '')
      .replace(/\n/g, ' ');
    throw new UsageError('command line', message);
  }
  const { values, positionals } = parsed;
  const help = values.help === true;

  const found = findCommand(positionals, help);
  if ('help' in found) return found;
  const { name, rest } = found;
  const spec = COMMANDS[name];
  if (help) return { help: commandUsage(name) };

  for (const flag of Object.keys(values)) {
    if (!(flag in GLOBAL_FLAGS) && !(flag in spec.flags)) {
      throw new UsageError(`--${flag}`, `is not an option of 'blinknet ${name}'`, name);
    }
  }
  if (rest.length !== spec.positionals) {
    const expected = spec.positionals === 0 ? 'no arguments' : `${spec.positionals} argument`;
    const got = rest.length === 0 ? 'none' : rest.map((p) => `'${p}'`).join(' ');
    throw new UsageError('command line', `'blinknet ${name}' takes ${expected}, got ${got}`, name);
  }
  const command = spec.build(new Input(name, values, rest));
  return { command, options: globalOptions(values, env, readFile, name) };
}

/**
 * The command the positionals start with and the arguments after it, or the usage text that --help
 * asks for when they name no command (`blinknet --help`, `blinknet policy --help`).
 */
function findCommand(
  positionals: readonly string[],
  help: boolean,
): { readonly help: string } | { readonly name: CommandName; readonly rest: readonly string[] } {
  const [group, verb, ...rest] = positionals;
  if (group === undefined) {
    if (help) return { help: TOP_USAGE };
    throw new UsageError('command', `none given; one of: ${NAMES.join(', ')}`);
  }
  if ((NAMES as string[]).includes(group)) return { name: group as CommandName, rest: positionals.slice(1) };
  if (!GROUPS.includes(group)) {
    throw new UsageError('command', `unknown '${group}'; one of: ${NAMES.join(', ')}`);
  }
  const name = `${group} ${verb}` as CommandName;
  if (verb === undefined || !NAMES.includes(name)) {
    if (help && verb === undefined) return { help: groupUsage(group) };
    const verbs = NAMES.filter((n) => n.startsWith(`${group} `)).join(', ');
    throw new UsageError(
      'command',
      `${verb === undefined ? `'${group}' needs a verb` : `unknown '${name}'`}; one of: ${verbs}`,
      group,
    );
  }
  return { name, rest };
}

function globalOptions(
  values: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
  command: CommandName,
): GlobalOptions {
  const flag = (name: string) => values[name] as string | undefined;
  const planner =
    flag('planner') !== undefined
      ? checkAddress(flag('planner')!, '--planner', command)
      : env.BLINKNET_PLANNER
        ? checkAddress(env.BLINKNET_PLANNER, 'BLINKNET_PLANNER', command)
        : DEFAULT_PLANNER;
  const timeoutS =
    flag('timeout-s') === undefined
      ? LONG_CALLS.includes(command)
        ? LONG_TIMEOUT_S
        : DEFAULT_TIMEOUT_S
      : positiveNumber(flag('timeout-s')!, '--timeout-s', 'a number of seconds', command);
  return {
    planner,
    token: adminToken(flag('token'), flag('token-file'), env, readFile, command),
    json: values.json === true,
    timeoutMs: Math.ceil(timeoutS * 1000),
  };
}

/** --token, else --token-file, else BLINKNET_ADMIN_TOKEN: checked here so that no call goes out without one. */
function adminToken(
  token: string | undefined,
  tokenFile: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
  command: CommandName,
): string {
  if (token !== undefined && tokenFile !== undefined) {
    throw new UsageError('--token', 'give --token or --token-file, not both', command);
  }
  if (token !== undefined) {
    if (token.trim() === '') throw new UsageError('--token', 'must not be empty', command);
    return token.trim();
  }
  if (tokenFile !== undefined) {
    let text: string;
    try {
      text = readFile(tokenFile);
    } catch (error) {
      throw new UsageError(
        '--token-file',
        `cannot read '${tokenFile}': ${(error as Error).message}`,
        command,
      );
    }
    if (text.trim() === '') throw new UsageError('--token-file', `'${tokenFile}' is empty`, command);
    return text.trim();
  }
  const fromEnv = env.BLINKNET_ADMIN_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  throw new UsageError(
    '--token',
    "the planner's admin token is required: pass --token T or --token-file PATH, or set BLINKNET_ADMIN_TOKEN",
    command,
  );
}

/** HOST:PORT, with an IPv6 host in brackets ([::1]:7070). */
function checkAddress(address: string, field: string, command: CommandName): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d+)$/.exec(address);
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(field, `must be HOST:PORT with a port in 1..65535, got '${address}'`, command);
  }
  return address;
}

/**
 * `--memory-mb -3` becomes `--memory-mb=-3`: parseArgs refuses a value that starts with '-' as
 * ambiguous, and the operator should hear that the number is negative instead.
 */
function joinNegativeValues(argv: readonly string[], flags: Flags): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = /^--([^=]+)$/.exec(argv[i])?.[1];
    const next = argv[i + 1];
    if (flag && flags[flag]?.value !== undefined && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

// ---- usage text ----

const FLAG_COLUMN = 28;

function flagLines(flags: Flags): string {
  return Object.entries(flags)
    .map(([flag, spec]) => {
      const names = `${spec.short ? `-${spec.short}, ` : ''}--${flag}${spec.value ? ` ${spec.value}` : ''}`;
      const help = spec.help.split('\n').join(`\n${''.padEnd(FLAG_COLUMN)}`);
      return `  ${names.padEnd(FLAG_COLUMN - 3)} ${help}`;
    })
    .join('\n');
}

function commandList(names: readonly CommandName[]): string {
  const width = Math.max(...names.map((name) => name.length));
  return names.map((name) => `  ${name.padEnd(width)}   ${COMMANDS[name].summary}`).join('\n');
}

function synopsis(name: CommandName): string {
  return `blinknet ${name} ${COMMANDS[name].synopsis}`.trimEnd();
}

const GLOBAL_SECTION = `global options (every command, anywhere on the line):
${flagLines(GLOBAL_FLAGS)}`;

const UNITS_AND_STATUS = `Sizes are in MB (10^6 bytes, not MiB), latencies in milliseconds.
Exit status: 0 ok; 1 a call failed, its gRPC status on stderr (e.g. 'blinknet: UNAUTHENTICATED: ...');
2 the command line is wrong.`;

export const TOP_USAGE = `usage: blinknet <command> [options]

The BlinkNet operator CLI: upload models, list devices and their classes, set the bounds models must
meet on them, preview and deploy the plans that meet them, follow the deployments, and roll back.
It calls the planner's AdminService.

commands:
${commandList(NAMES)}

${GLOBAL_SECTION}

${UNITS_AND_STATUS}
'blinknet <command> --help' (e.g. 'blinknet policy set --help') explains a command's options.`;

function groupUsage(group: string): string {
  const names = NAMES.filter((name) => name.startsWith(`${group} `));
  return `usage: ${names.map(synopsis).join('\n       ')}

commands:
${commandList(names)}

'blinknet ${group} <command> --help' explains a command's options; 'blinknet --help' the global ones.`;
}

function commandUsage(name: CommandName): string {
  const spec = COMMANDS[name];
  const options = Object.keys(spec.flags).length > 0 ? `options:\n${flagLines(spec.flags)}\n\n` : '';
  return `usage: ${synopsis(name)}

${spec.description}

${options}${GLOBAL_SECTION}

${UNITS_AND_STATUS}`;
}
