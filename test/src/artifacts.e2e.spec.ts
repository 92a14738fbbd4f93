import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '@blinknet/cli';
import { type GetStatusResponse } from '@blinknet/proto/v1/admin';
import { readReferenceModel, referenceModel } from '@blinknet/zoo';
import {
  type AgentOptions,
  classScope,
  type Daemon,
  LOOP_ENDED,
  type LogLine,
  type PlannerOptions,
  servedModels,
  setPolicy,
  startAgent,
  startPlanner,
  statusWhen as statusWhenOf,
  until,
  uploadModel,
} from './fleet';

// Artifacts damaged on their way to a device, across processes: the planner and an agent on
// 127.0.0.1 with real gRPC, SQLite and onnxruntime.

const TOKEN = 'e2e-admin-token';
const SECRET = 'e2e-enrollment-secret';
const CLASS = 'e2e-artifacts';
const scope = classScope(CLASS);
const LENET = readReferenceModel(referenceModel('lenet5-mnist'));

let dir: string;
let plannerOptions: PlannerOptions;
let planner: Daemon;
let agentOptions: AgentOptions;
let agent: Daemon;
let client: AdminClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blinknet-e2e-artifacts-'));
  plannerOptions = {
    port: 0,
    dataDir: join(dir, 'planner'),
    adminToken: TOKEN,
    enrollmentSecret: SECRET,
    calibrationImages: 300,
  };
  planner = await startPlanner(plannerOptions);
  const address = `127.0.0.1:${planner.ready.port as number}`;
  client = new AdminClient(address, TOKEN, 60_000);
  agentOptions = {
    planner: address,
    deviceClass: CLASS,
    name: 'e2e-artifacts-box',
    threads: 1,
    dataDir: join(dir, 'agent'),
    enrollmentSecret: SECRET,
  };
  agent = await startAgent(agentOptions);
  await uploadModel(client, 'lenet5', 'mnist', LENET);
}, 60_000);

afterAll(async () => {
  client?.close();
  await Promise.all([agent?.stop(), planner?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const statusWhen = (what: string, ok: (s: GetStatusResponse) => boolean, everyMs?: number) =>
  statusWhenOf(client, scope, what, ok, { everyMs });
const loopEnded = () => statusWhen('the closed loop to end', (s) => LOOP_ENDED.includes(s.loops[0]?.state));

describe('artifacts on their way to a device', () => {
  beforeAll(async () => {
    await setPolicy(client, CLASS, {
      models: [{ model: 'lenet5', latencyMs: undefined }],
      storageBytes: Math.round(LENET.length * 0.45),
    });
    expect((await loopEnded()).loops[0].state).toBe('converged');
  }, 180_000);

  it('rejects a corrupted artifact, keeps serving the previous version, and converges on whole bytes', async () => {
    const [before] = await servedModels(agent);
    expect(before.model).toBe('lenet5');
    // The device is away while the next round is built; its artifacts are then corrupted on the
    // planner's disk (one bit each, as a failing disk would), before the device fetches them.
    await agent.stop();
    const artifacts = join(plannerOptions.dataDir, 'artifacts');
    const existing = new Set(readdirSync(artifacts));
    const storageBytes = Math.round(LENET.length * 0.42);
    await setPolicy(client, CLASS, { models: [{ model: 'lenet5', latencyMs: undefined }], storageBytes });
    const first = await statusWhen('the round queued', (s) => s.loops[0]?.state === 'deploying', 50);
    const fresh = readdirSync(artifacts).filter((name) => !existing.has(name));
    expect(fresh.length).toBeGreaterThan(0);
    for (const name of fresh) {
      const bytes = readFileSync(join(artifacts, name));
      bytes[bytes.length >> 1] ^= 0x10;
      writeFileSync(join(artifacts, name), bytes);
    }

    let failure: LogLine | undefined;
    agent = await startAgent({
      ...agentOptions,
      onLog: (line) => {
        if (line.msg === 'job failed') failure ??= line;
      },
    });
    await until('the device to reject the deployment', async () => failure, 60_000, 20);
    // Fetched twice (a chunk may be corrupted on its way), rejected, and not served.
    expect(String(failure!.err)).toMatch(
      /rejected: sha256 of the \d+ bytes received is [0-9a-f]{64}, expected/,
    );
    expect((await servedModels(agent))[0].artifactSha256).toBe(before.artifactSha256);

    // The next round builds the plan's artifacts again (whole bytes) and the device takes them.
    const status = await loopEnded();
    expect(status.loops[0].state).toBe('converged');
    expect(status.loops[0].round).toBe(first.loops[0].round + 1);
    expect(status.deployments[0].state).toBe('active');
    const [now] = await servedModels(agent);
    expect(now.artifactSha256).not.toBe(before.artifactSha256);
    expect(fresh).toContain(`${now.artifactSha256}.onnx`);
  }, 240_000);
});
