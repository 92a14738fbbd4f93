/**
 * A fleet on this machine: the planner and agents as real daemons (child processes running their
 * TypeScript sources), each found ready by its JSON log line, killed politely (SIGTERM) or not
 * (SIGKILL). Used by the end-to-end tests and `npm run demo`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials } from '@grpc/grpc-js';
import { type AdminClient } from '@blinknet/cli';
import { type GetStatusResponse, Policy, type PolicyScope } from '@blinknet/proto/v1/admin';
import { LocalRuntimeServiceClient, type ServedModel } from '@blinknet/proto/v1/runtime';

const ROOT = join(__dirname, '..', '..');
const PLANNER_BIN = join(ROOT, 'apps/planner/bin/blinknet-planner.cjs');
const AGENT_BIN = join(ROOT, 'apps/agent/bin/blinknet-agent.cjs');

export type LogLine = Record<string, unknown>;

export interface DaemonOptions {
  /** Called with every JSON log line the daemon prints. */
  readonly onLog?: (line: LogLine) => void;
}

/** A running daemon: its process and the log line that said it was ready. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly ready: LogLine;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
  /** kill -9: no clean-up of any kind. */
  kill(): Promise<void>;
}

/** The environment without BLINKNET_* variables, so that a developer's settings cannot leak in. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BLINKNET_')));
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

/** Starts `bin` and resolves once a log line satisfies `isReady`; rejects if it exits first. */
export function startDaemon(
  bin: string,
  args: readonly string[],
  isReady: (line: LogLine) => boolean,
  options: DaemonOptions = {},
): Promise<Daemon> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (data: Buffer) => stderr.push(data.toString()));
  const daemon = (ready: LogLine): Daemon => ({
    child,
    ready,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.kill('SIGTERM');
      await exited(child);
      clearTimeout(timer);
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
  });
  return new Promise((resolve, reject) => {
    let started = false;
    child.once('exit', (code, signal) => {
      if (!started)
        reject(new Error(`${bin} exited (${code ?? signal}) before it was ready: ${stderr.join('')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return; // not a log line
      }
      options.onLog?.(line);
      if (!started && isReady(line)) {
        started = true;
        resolve(daemon(line));
      }
    });
  });
}

/** A TCP port nothing listens on now (so that a restarted planner can keep its address). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PlannerOptions extends DaemonOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly adminToken: string;
  readonly enrollmentSecret: string;
  readonly calibrationImages?: number;
  readonly maxRounds?: number;
  readonly canaryDevices?: number;
}

export function startPlanner(o: PlannerOptions): Promise<Daemon> {
  const args = [
    ...['--port', String(o.port), '--data-dir', o.dataDir],
    ...['--admin-token', o.adminToken, '--enrollment-secret', o.enrollmentSecret, '--log-level', 'info'],
    ...(o.calibrationImages ? ['--calibration-images', String(o.calibrationImages)] : []),
    ...(o.maxRounds !== undefined ? ['--max-rounds', String(o.maxRounds)] : []),
    ...(o.canaryDevices !== undefined ? ['--canary-devices', String(o.canaryDevices)] : []),
  ];
  return startDaemon(PLANNER_BIN, args, (l) => l.msg === 'planner listening', o);
}

export interface AgentOptions extends DaemonOptions {
  readonly planner: string;
  readonly deviceClass: string;
  readonly name: string;
  readonly threads: number;
  readonly dataDir: string;
  readonly enrollmentSecret: string;
}

/** Starts an agent; ready once its local inference API listens (it has enrolled by then). */
export function startAgent(o: AgentOptions): Promise<Daemon> {
  const args = [
    ...['--planner', o.planner, '--device-class', o.deviceClass, '--name', o.name],
    ...['--threads', String(o.threads), '--data-dir', o.dataDir, '--listen', '127.0.0.1:0'],
    ...['--enrollment-secret', o.enrollmentSecret, '--log-level', 'info'],
  ];
  return startDaemon(AGENT_BIN, args, (l) => l.msg === 'local inference API listening', o);
}

/** What an agent serves now, from its local inference API. */
export async function servedModels(agent: Daemon): Promise<ServedModel[]> {
  const client = new LocalRuntimeServiceClient(String(agent.ready.listen), credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) =>
      client.listModels({}, (error, response) => (error ? reject(error) : resolve(response.models))),
    );
  } finally {
    client.close();
  }
}

export const classScope = (deviceClass: string): PolicyScope => ({ deviceClass, deviceId: undefined });

/** `client.setPolicy` for a class, with every bound left out unless given. */
export function setPolicy(client: AdminClient, deviceClass: string, policy: Partial<Policy>) {
  return client.setPolicy(
    Policy.fromPartial({ scope: classScope(deviceClass), latencyPercentile: 95, ...policy }),
  );
}

/** Uploads a model file in one piece. */
export function uploadModel(client: AdminClient, name: string, datasetId: string, bytes: Uint8Array) {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return client.uploadModel(
    { name, datasetId, sha256, bytes: bytes.length, inputsBytes: 0 },
    (async function* () {
      yield bytes;
    })(),
  );
}

export const LOOP_ENDED = ['converged', 'failed', 'infeasible'];

/** Polls `check` every `everyMs` until it returns a value, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Polls `scope`'s status until `ok` accepts it (every `everyMs`, up to 150 s). On a timeout the
 * error says where the loop stood (a stuck loop and a missed state look alike otherwise), and
 * `context()` (e.g. the planner's warnings).
 */
export async function statusWhen(
  client: AdminClient,
  scope: PolicyScope,
  what: string,
  ok: (s: GetStatusResponse) => boolean,
  options: { everyMs?: number; context?: () => string } = {},
): Promise<GetStatusResponse> {
  let last: GetStatusResponse | undefined;
  try {
    return await until(
      what,
      async () => {
        last = await client.getStatus(scope);
        return ok(last) ? last : undefined;
      },
      150_000,
      options.everyMs,
    );
  } catch (error) {
    const where = JSON.stringify({
      loops: last?.loops,
      deployments: last?.deployments.map((d) => [
        d.deviceName,
        d.round,
        d.state,
        d.detail,
        `latency ${d.measured?.latencyMs.toFixed(3)} ms, predicted ${d.predicted?.latencyMs.toFixed(3)}`,
      ]),
    });
    throw new Error(`${(error as Error).message}; last status ${where}; ${options.context?.() ?? ''}`);
  }
}
