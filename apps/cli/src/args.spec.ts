import { type Command, type CommandLine, megabytesToBytes, parseCommandLine } from './args';
import { UsageError } from './errors';

const ENV = { BLINKNET_ADMIN_TOKEN: 'secret' };
const noFile = (path: string): string => {
  throw new Error(`ENOENT: no such file or directory, open '${path}'`);
};

function parse(argv: string, env: Record<string, string> = ENV, readFile = noFile): CommandLine {
  return parseCommandLine(argv.split(' ').filter(Boolean), env, readFile);
}

function command(argv: string): Command {
  const line = parse(argv);
  if (line.help !== undefined) throw new Error('expected a command, got help');
  return line.command;
}

/** The message the operator sees, and the command whose --help it points to. */
function refusal(argv: string, env?: Record<string, string>, readFile?: typeof noFile): string {
  try {
    parse(argv, env, readFile);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return `${error.message} [${error.help}]`;
  }
  throw new Error(`'${argv}' was accepted`);
}

describe('parseCommandLine: commands', () => {
  it('reads every command with its flags, global flags anywhere on the line', () => {
    expect(parse('--json models ls --planner 10.0.0.5:7070 --timeout-s 2.5')).toEqual({
      command: { name: 'models ls' },
      options: { planner: '10.0.0.5:7070', token: 'secret', json: true, timeoutMs: 2500 },
    });
    expect(command('models upload net.onnx --name lenet5 --dataset fashion-mnist')).toEqual({
      name: 'models upload',
      file: 'net.onnx',
      model: 'lenet5',
      datasetId: 'fashion-mnist',
    });
    expect(command('models upload net.onnx --name lenet5')).toMatchObject({ datasetId: '' });
    expect(command('models upload net.onnx --name tiny --inputs samples.f32')).toMatchObject({
      datasetId: '',
      inputs: 'samples.f32',
    });
    expect(refusal('models upload net.onnx --name a --inputs x.f32 --dataset mnist')).toMatch(
      /--inputs: give --inputs or --dataset, not both/,
    );
    expect(command('devices ls')).toEqual({ name: 'devices ls', deviceClass: '' });
    expect(command('devices ls --class rpi4')).toEqual({ name: 'devices ls', deviceClass: 'rpi4' });
    expect(command('classes ls')).toEqual({ name: 'classes ls' });
    expect(command('policy get --class rpi4')).toEqual({
      name: 'policy get',
      scope: { deviceClass: 'rpi4' },
    });
    expect(command('policy rm --device d-1')).toEqual({ name: 'policy rm', scope: { deviceId: 'd-1' } });
    expect(command('plan preview --class rpi4')).toEqual({
      name: 'plan preview',
      scope: { deviceClass: 'rpi4' },
    });
    expect(command('deploy --class rpi4')).toEqual({ name: 'deploy', scope: { deviceClass: 'rpi4' } });
    expect(command('--json deploy --device d-1')).toEqual({ name: 'deploy', scope: { deviceId: 'd-1' } });
    expect(command('status')).toEqual({ name: 'status', scope: undefined, watch: false });
    expect(command('status --class rpi4 --watch')).toEqual({
      name: 'status',
      scope: { deviceClass: 'rpi4' },
      watch: true,
    });
    expect(command('--watch status --device d-1')).toEqual({
      name: 'status',
      scope: { deviceId: 'd-1' },
      watch: true,
    });
    expect(command('rollback --class rpi4')).toEqual({ name: 'rollback', scope: { deviceClass: 'rpi4' } });
  });

  it('builds a policy in bytes and milliseconds, optional bounds left unset', () => {
    expect(
      command(
        'policy set --class rpi4 --model lenet5 --model cifar --model-latency-ms lenet5=8 --latency-ms 20 ' +
          '--percentile 99 --memory-mb 3 --storage-mb 0.57 --accuracy-floor 0.9 --margin 0.8',
      ),
    ).toEqual({
      name: 'policy set',
      policy: {
        scope: { deviceClass: 'rpi4' },
        models: [
          { model: 'lenet5', latencyMs: 8 },
          { model: 'cifar', latencyMs: undefined },
        ],
        totalLatencyMs: 20,
        latencyPercentile: 99,
        memoryBytes: 3_000_000,
        storageBytes: 570_000,
        accuracyFloor: 0.9,
        latencyMargin: 0.8,
      },
    });
    expect(command('policy set --device d-1 --model lenet5')).toEqual({
      name: 'policy set',
      policy: {
        scope: { deviceId: 'd-1' },
        models: [{ model: 'lenet5', latencyMs: undefined }],
        totalLatencyMs: undefined,
        latencyPercentile: 0, // the planner's default, p95
        memoryBytes: undefined,
        storageBytes: undefined,
        accuracyFloor: undefined,
        latencyMargin: undefined,
      },
    });
  });

  it('takes the planner and the token from flags, a file or the environment, in that order', () => {
    const options = (argv: string, env: Record<string, string>, readFile = noFile) => {
      const line = parse(argv, env, readFile);
      if (line.help !== undefined) throw new Error('help');
      return line.options;
    };
    expect(
      options('classes ls', { BLINKNET_ADMIN_TOKEN: ' t1\n', BLINKNET_PLANNER: 'planner.lan:7000' }),
    ).toEqual({ planner: 'planner.lan:7000', token: 't1', json: false, timeoutMs: 30_000 });
    expect(
      options('classes ls --planner [::1]:7070 --token t2', { BLINKNET_ADMIN_TOKEN: 't1' }),
    ).toMatchObject({
      planner: '[::1]:7070',
      token: 't2',
    });
    const file = (path: string) => (path === 'var/admin-token' ? 'from-file\n' : noFile(path));
    expect(
      options('classes ls --token-file var/admin-token', { BLINKNET_ADMIN_TOKEN: 't1' }, file),
    ).toMatchObject({
      token: 'from-file',
    });
    expect(options('models upload a.onnx --name a', ENV).timeoutMs).toBe(600_000);
    expect(options('models upload a.onnx --name a --timeout-s 5', ENV).timeoutMs).toBe(5_000);
    // A deploy waits for the planner to build the artifacts; nothing else does.
    expect(options('deploy --class rpi4', ENV).timeoutMs).toBe(600_000);
    expect(options('deploy --class rpi4 --timeout-s 90', ENV).timeoutMs).toBe(90_000);
    expect(options('status --watch', ENV).timeoutMs).toBe(30_000);
    expect(options('rollback --class rpi4', ENV).timeoutMs).toBe(30_000);
  });

  it('answers --help and -h at every level without needing a token', () => {
    const help = (argv: string) => {
      const line = parse(argv, {});
      if (line.help === undefined) throw new Error(`'${argv}' gave no help`);
      return line.help;
    };
    expect(help('--help')).toMatch(/^usage: blinknet <command> \[options\]/);
    expect(help('-h')).toContain('policy set      create or replace a bound policy');
    expect(help('-h')).toContain('deploy          deploy the plan of a policy to its devices');
    expect(help('deploy -h')).toMatch(/^usage: blinknet deploy \(--class C \| --device ID\)\n/);
    expect(help('status --help')).toMatch(
      /^usage: blinknet status \[--class C \| --device ID\] \[--watch\]\n/,
    );
    expect(help('status --help')).toContain('--watch                   ask again every 2 s');
    expect(help('rollback -h --device d-1')).toMatch(/^usage: blinknet rollback /);
    expect(help('policy --help')).toMatch(/^usage: blinknet policy set .*\n {7}blinknet policy get/);
    expect(help('policy set -h --memory-mb 0')).toMatch(
      /^usage: blinknet policy set \(--class C \| --device ID\)/,
    );
    const texts = [
      help('-h'),
      ...['models', 'devices', 'classes', 'policy', 'plan'].map((group) => help(`${group} -h`)),
      ...[
        'models upload',
        'models ls',
        'devices ls',
        'classes ls',
        'policy set',
        'policy get',
        'policy rm',
        'plan preview',
        'deploy',
        'status',
        'rollback',
      ].map((name) => help(`${name} --help`)),
    ];
    for (const text of texts) {
      for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(104);
    }
    // Every flag of a command is explained in its help, the global ones too.
    expect(help('policy set --help')).toContain('--memory-mb MB            resident memory');
    expect(help('policy set --help')).toContain('MB (10^6 bytes)');
    for (const flag of ['--planner', '--token T', '--token-file', '--timeout-s', '--json', '-h, --help']) {
      expect(help('classes ls --help')).toContain(flag);
    }
  });
});

describe('parseCommandLine: refusals name the flag and the help to read', () => {
  it.each([
    [
      '',
      'command: none given; one of: models upload, models ls, devices ls, classes ls, policy set, policy get, policy rm, plan preview, deploy, status, rollback [blinknet --help]',
    ],
    [
      'frob',
      "command: unknown 'frob'; one of: models upload, models ls, devices ls, classes ls, policy set, policy get, policy rm, plan preview, deploy, status, rollback [blinknet --help]",
    ],
    [
      'policy',
      "command: 'policy' needs a verb; one of: policy set, policy get, policy rm [blinknet policy --help]",
    ],
    [
      'policy frob',
      "command: unknown 'policy frob'; one of: policy set, policy get, policy rm [blinknet policy --help]",
    ],
    [
      'models ls extra',
      "command line: 'blinknet models ls' takes no arguments, got 'extra' [blinknet models ls --help]",
    ],
    [
      'models upload --name a',
      "command line: 'blinknet models upload' takes 1 argument, got none [blinknet models upload --help]",
    ],
    ['models ls --frob', "command line: Unknown option '--frob' [blinknet --help]"],
    ['models ls --planner', "command line: Option '--planner <value>' argument missing [blinknet --help]"],
    ['models ls --json=yes', "command line: Option '--json' does not take an argument [blinknet --help]"],
    [
      'models ls --class rpi4',
      "--class: is not an option of 'blinknet models ls' [blinknet models ls --help]",
    ],
    ['models upload a.onnx', '--name: is required [blinknet models upload --help]'],
    ['models upload a.onnx --name=', '--name: must not be empty [blinknet models upload --help]'],
    [
      'models upload a.onnx --name a --dataset cifar',
      "--dataset: must be one of mnist, fashion-mnist, got 'cifar' [blinknet models upload --help]",
    ],
    ['policy get', '--class: one of --class C or --device ID is required [blinknet policy get --help]'],
    [
      'plan preview --class a --device b',
      '--class: give --class or --device, not both: a policy applies to a class or to one device [blinknet plan preview --help]',
    ],
    ['policy rm --class=', '--class: must not be empty [blinknet policy rm --help]'],
    ['deploy', '--class: one of --class C or --device ID is required [blinknet deploy --help]'],
    ['rollback', '--class: one of --class C or --device ID is required [blinknet rollback --help]'],
    [
      'deploy --class a --device b',
      '--class: give --class or --device, not both: a policy applies to a class or to one device [blinknet deploy --help]',
    ],
    [
      'status --class a --device b',
      '--class: give --class or --device, not both: a policy applies to a class or to one device [blinknet status --help]',
    ],
    ['status --device=', '--device: must not be empty [blinknet status --help]'],
    ['rollback --device= ', '--device: must not be empty [blinknet rollback --help]'],
    [
      'deploy rpi4',
      "command line: 'blinknet deploy' takes no arguments, got 'rpi4' [blinknet deploy --help]",
    ],
    [
      'status rpi4 --watch',
      "command line: 'blinknet status' takes no arguments, got 'rpi4' [blinknet status --help]",
    ],
    ['deploy --class a --watch', "--watch: is not an option of 'blinknet deploy' [blinknet deploy --help]"],
    [
      'rollback --class a --model m',
      "--model: is not an option of 'blinknet rollback' [blinknet rollback --help]",
    ],
    ['status --watch=2', "command line: Option '--watch' does not take an argument [blinknet --help]"],
    [
      'deploy --class a --timeout-s -1',
      "--timeout-s: must be greater than 0, got '-1' [blinknet deploy --help]",
    ],
    ['policy set --class a', '--model: at least one model is required [blinknet policy set --help]'],
    ['policy set --class a --model m --model m', "--model: 'm' is named twice [blinknet policy set --help]"],
    [
      'policy set --class a --model m --model-latency-ms 8',
      "--model-latency-ms: expects MODEL=MS, e.g. lenet5=8, got '8' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --model-latency-ms x=8',
      "--model-latency-ms: 'x' is not one of the --model names (m) [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --model-latency-ms m=8 --model-latency-ms m=9',
      "--model-latency-ms: 'm' has two bounds [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --model-latency-ms m=-8',
      "--model-latency-ms: must be greater than 0, got '-8' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --model-latency-ms m=fast',
      "--model-latency-ms: must be a number of milliseconds, got 'fast' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --latency-ms 0',
      "--latency-ms: must be greater than 0, got '0' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --latency-ms -5',
      "--latency-ms: must be greater than 0, got '-5' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --latency-ms 8ms',
      "--latency-ms: must be a number of milliseconds, got '8ms' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --latency-ms 0x10',
      "--latency-ms: must be a number of milliseconds, got '0x10' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --latency-ms Infinity',
      "--latency-ms: must be a number of milliseconds, got 'Infinity' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --latency-ms 1e999',
      "--latency-ms: must be a number of milliseconds, got '1e999' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --percentile 0',
      "--percentile: must be greater than 0, got '0' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --percentile 100.5',
      "--percentile: must be at most 100 (a percentile), got '100.5' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --memory-mb 0',
      "--memory-mb: must be greater than 0, got '0' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --memory-mb -3',
      "--memory-mb: must be greater than 0, got '-3' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --memory-mb 3MB',
      "--memory-mb: must be a number of MB (10^6 bytes), got '3MB' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --memory-mb 0.0000004',
      '--memory-mb: 4e-7 MB is less than one byte [blinknet policy set --help]',
    ],
    [
      'policy set --class a --model m --storage-mb 1e12',
      '--storage-mb: 1000000000000 MB is too large [blinknet policy set --help]',
    ],
    [
      'policy set --class a --model m --storage-mb -.5',
      "--storage-mb: must be greater than 0, got '-.5' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --accuracy-floor 90',
      "--accuracy-floor: must be at most 1 (a fraction: 0.9 = 90%), got '90' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --accuracy-floor 0',
      "--accuracy-floor: must be greater than 0, got '0' [blinknet policy set --help]",
    ],
    [
      'policy set --class a --model m --margin 1.1',
      "--margin: must be at most 1 (a fraction: 0.9 = 10% headroom), got '1.1' [blinknet policy set --help]",
    ],
    ['classes ls --timeout-s 0', "--timeout-s: must be greater than 0, got '0' [blinknet classes ls --help]"],
    [
      'classes ls --timeout-s soon',
      "--timeout-s: must be a number of seconds, got 'soon' [blinknet classes ls --help]",
    ],
    [
      'classes ls --planner localhost',
      "--planner: must be HOST:PORT with a port in 1..65535, got 'localhost' [blinknet classes ls --help]",
    ],
    [
      'classes ls --planner host:70000',
      "--planner: must be HOST:PORT with a port in 1..65535, got 'host:70000' [blinknet classes ls --help]",
    ],
    ['classes ls --token=', '--token: must not be empty [blinknet classes ls --help]'],
    [
      'classes ls --token t --token-file f',
      '--token: give --token or --token-file, not both [blinknet classes ls --help]',
    ],
  ])("'blinknet %s'", (argv, message) => {
    expect(refusal(argv)).toBe(message);
  });

  it('refuses a missing, unreadable or empty token and a bad BLINKNET_PLANNER before any call', () => {
    expect(refusal('classes ls', {})).toBe(
      "--token: the planner's admin token is required: pass --token T or --token-file PATH, or set BLINKNET_ADMIN_TOKEN [blinknet classes ls --help]",
    );
    expect(refusal('classes ls --token-file /nope', {})).toBe(
      "--token-file: cannot read '/nope': ENOENT: no such file or directory, open '/nope' [blinknet classes ls --help]",
    );
    expect(refusal('classes ls --token-file empty', {}, () => '\n')).toBe(
      "--token-file: 'empty' is empty [blinknet classes ls --help]",
    );
    expect(refusal('classes ls', { ...ENV, BLINKNET_PLANNER: 'http://x:1' })).toBe(
      "BLINKNET_PLANNER: must be HOST:PORT with a port in 1..65535, got 'http://x:1' [blinknet classes ls --help]",
    );
  });
});

describe('megabytesToBytes', () => {
  it('converts MB (10^6 bytes) exactly for up to 6 decimals, despite binary floating point', () => {
    expect(megabytesToBytes(3, '--memory-mb')).toBe(3_000_000);
    expect(megabytesToBytes(0.57, '--memory-mb')).toBe(570_000); // 0.57 * 1e6 = 569999.99...
    expect(megabytesToBytes(1.000001, '--memory-mb')).toBe(1_000_001);
    expect(megabytesToBytes(0.000001, '--memory-mb')).toBe(1);
    expect(megabytesToBytes(4096, '--memory-mb')).toBe(4_096_000_000);
    for (let kb = 1; kb <= 5000; kb++) {
      const mb = Number(`${Math.floor(kb / 1000)}.${String(kb % 1000).padStart(3, '0')}`); // '0.001' .. '5.000'
      expect(megabytesToBytes(mb, '--memory-mb')).toBe(kb * 1000);
    }
  });
});
