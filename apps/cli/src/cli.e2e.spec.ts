import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { referenceModel } from '@blinknet/zoo';
import { type CliIO, runCli } from './cli';

// The CLI against the real planner daemon, over real gRPC on 127.0.0.1: nothing is faked.

const PLANNER_BIN = join(
  dirname(require.resolve('@blinknet/planner/package.json')),
  'bin',
  'blinknet-planner.cjs',
);
const CLI_BIN = join(__dirname, '..', 'bin', 'blinknet.cjs');
const LENET = referenceModel('lenet5-mnist');
const TOKEN = 'e2e-admin-token';

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `blinknet` in this process, as bin/blinknet.cjs would, capturing what it prints. */
async function blinknet(argv: readonly string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    stderrIsTTY: false,
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    readFile: (path) => readFileSync(path, 'utf8'),
  };
  const code = await runCli(argv, {}, io);
  return { code, stdout, stderr };
}

/** The environment without BLINKNET_* variables, so that a developer's settings cannot leak in. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BLINKNET_')));
}

/** Starts the planner on a free port and resolves to that port, read from its 'planner listening' log line. */
function startPlanner(dataDir: string): { child: ChildProcess; port: Promise<number> } {
  const child = spawn(
    process.execPath,
    [PLANNER_BIN, '--port', '0', '--data-dir', dataDir, '--admin-token', TOKEN],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = new Promise<number>((resolve, reject) => {
    const output: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'planner listening' && entry.port) resolve(entry.port);
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`planner exited (${code}) before listening:\n${output.join('\n')}`)),
    );
  });
  return { child, port };
}

async function stopPlanner(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Listens on a free port of 127.0.0.1 and resolves to it. */
function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

describe('blinknet against a running planner', () => {
  let tmp: string;
  let planner: ChildProcess;
  let plannerFlags: string[];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'blinknet-cli-'));
    const started = startPlanner(join(tmp, 'var'));
    planner = started.child;
    const port = await started.port;
    plannerFlags = ['--planner', `127.0.0.1:${port}`, '--timeout-s', '60'];
  }, 120_000);

  afterAll(async () => {
    if (planner) await stopPlanner(planner);
    rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  it('refuses a wrong token: UNAUTHENTICATED, exit status 1, for a call and for an upload', async () => {
    for (const argv of [
      ['classes', 'ls'],
      ['models', 'upload', LENET.path, '--name', 'lenet5'],
    ]) {
      const outcome = await blinknet([...argv, ...plannerFlags, '--token', 'not-the-token']);
      expect(outcome.code).toBe(1);
      expect(outcome.stdout).toBe('');
      expect(outcome.stderr).toMatch(/^blinknet: UNAUTHENTICATED: .+\n$/);
    }
  });

  it('lists no device classes on an empty planner, as text and as JSON', async () => {
    const text = await blinknet(['classes', 'ls', ...plannerFlags, '--token', TOKEN]);
    expect(text).toEqual({
      code: 0,
      stdout: 'no device classes yet: a class appears when its first device enrols\n',
      stderr: '',
    });
    const json = await blinknet(['classes', 'ls', '--json', ...plannerFlags, '--token', TOKEN]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ classes: [] });
  });

  it('uploads LeNet-5 (token from a file) and then lists it', async () => {
    const tokenFile = join(tmp, 'admin-token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const auth = ['--token-file', tokenFile];
    const upload = await blinknet([
      'models',
      'upload',
      LENET.path,
      '--name',
      'lenet5',
      ...plannerFlags,
      ...auth,
    ]);
    expect(upload.stderr).toBe('');
    expect(upload.code).toBe(0);
    expect(upload.stdout).toMatch(/^uploaded lenet5 \(sha256 1543470ae019, 249\.3 kB\)\n/);

    const again = await blinknet([
      'models',
      'upload',
      LENET.path,
      '--name',
      'lenet5',
      ...plannerFlags,
      ...auth,
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^lenet5: these bytes were uploaded before/);

    const table = await blinknet(['models', 'ls', ...plannerFlags, ...auth]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^MODEL +SHA256 +SIZE +DATASET +LAYERS +OPTIONS +ACCURACY +UPLOADED$/,
    );
    expect(table.stdout.split('\n')[1]).toMatch(/^lenet5 +1543470ae019 +249\.3 kB +random inputs +5 /);

    const json = await blinknet(['models', 'ls', '--json', ...plannerFlags, ...auth]);
    const { versions } = JSON.parse(json.stdout) as {
      versions: { model: string; sha256: string; bytes: unknown }[];
    };
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ model: 'lenet5', sha256: LENET.sha256, bytes: LENET.bytes });
  }, 60_000);

  it('refuses a policy for an unknown class: NOT_FOUND, exit status 1', async () => {
    const outcome = await blinknet([
      'policy',
      'set',
      '--class',
      'no-such-class',
      '--model',
      'lenet5',
      '--latency-ms',
      '8',
      ...plannerFlags,
      '--token',
      TOKEN,
    ]);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toMatch(/^blinknet: NOT_FOUND: .*no-such-class.*\n$/);
  });

  it('shows no deployments on an empty planner, as text and as JSON', async () => {
    const text = await blinknet(['status', ...plannerFlags, '--token', TOKEN]);
    expect(text).toEqual({
      code: 0,
      stdout: "no deployments yet: 'blinknet deploy (--class C | --device ID)'\n",
      stderr: '',
    });
    const json = await blinknet(['status', '--json', ...plannerFlags, '--token', TOKEN]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ deployments: [], loops: [] });
  });

  it('refuses to deploy to an unknown class: NOT_FOUND, exit status 1', async () => {
    const outcome = await blinknet(['deploy', '--class', 'no-such-class', ...plannerFlags, '--token', TOKEN]);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toMatch(/^blinknet: NOT_FOUND: .*no-such-class.*\n$/);
  });
});

describe('blinknet without a planner', () => {
  it('says it cannot reach the planner: UNAVAILABLE, exit status 1', async () => {
    // A port that was free a moment ago: nothing listens on it.
    const server = createServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    const outcome = await blinknet(['models', 'ls', '--planner', `127.0.0.1:${port}`, '--token', TOKEN]);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(
      new RegExp(
        `^blinknet: UNAVAILABLE: cannot reach the planner at 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)\\n$`,
      ),
    );
  });

  it('gives up after --timeout-s when the planner does not answer: DEADLINE_EXCEEDED, exit status 1', async () => {
    // Accepts the TCP connection and never speaks HTTP/2, like a planner that hangs.
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    const port = await listen(server);
    try {
      const outcome = await blinknet([
        'models',
        'ls',
        '--planner',
        `127.0.0.1:${port}`,
        '--token',
        TOKEN,
        '--timeout-s',
        '0.5',
      ]);
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toBe(
        `blinknet: DEADLINE_EXCEEDED: no answer from the planner at 127.0.0.1:${port} within 0.5 s (see --timeout-s)\n`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('bin/blinknet.cjs', () => {
  it('prints usage with exit status 0 for --help, and 2 for a usage error before any call', () => {
    const help = spawnSync(process.execPath, [CLI_BIN, '--help'], { env: cleanEnv(), encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: blinknet <command> \[options\]/);
    const usage = spawnSync(
      process.execPath,
      [CLI_BIN, 'policy', 'set', '--class', 'rpi4', '--model', 'm', '--memory-mb', '0'],
      {
        env: cleanEnv(),
        encoding: 'utf8',
      },
    );
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toBe(
      "blinknet: --memory-mb: must be greater than 0, got '0'\nsee 'blinknet policy set --help'\n",
    );
  }, 30_000);
});
