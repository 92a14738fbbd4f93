import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '@blinknet/cli';
import { type GetStatusResponse } from '@blinknet/proto/v1/admin';
import { readReferenceModel, referenceModel } from '@blinknet/zoo';
import {
  type AgentOptions,
  classScope,
  type Daemon,
  freePort,
  LOOP_ENDED,
  type PlannerOptions,
  setPolicy,
  startAgent,
  statusWhen as statusWhenOf,
  startPlanner,
  uploadModel,
} from './fleet';

// The closed loop with the planner and an agent as separate processes on 127.0.0.1: real gRPC,
// real SQLite, real onnxruntime, and kill -9.

const TOKEN = 'e2e-admin-token';
const SECRET = 'e2e-enrollment-secret';
const CLASS = 'e2e-1thread';
const scope = classScope(CLASS);
const LENET = readReferenceModel(referenceModel('lenet5-mnist'));

let dir: string;
let plannerOptions: PlannerOptions;
let planner: Daemon;
let agentOptions: AgentOptions;
let agent: Daemon;
let client: AdminClient;
/** The planner's warnings and errors, quoted when a wait times out. */
const plannerTrouble: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blinknet-e2e-'));
  // A fixed port, so that a restarted planner is found where the agent left it.
  const port = await freePort();
  plannerOptions = {
    port,
    dataDir: join(dir, 'planner'),
    adminToken: TOKEN,
    enrollmentSecret: SECRET,
    calibrationImages: 300,
    maxRounds: 3,
    // Each round goes to one device first (only the last test has two).
    canaryDevices: 1,
    onLog: (line) => {
      if (Number(line.level) >= 40) plannerTrouble.push(JSON.stringify(line).slice(0, 600));
    },
  };
  planner = await startPlanner(plannerOptions);
  client = new AdminClient(`127.0.0.1:${port}`, TOKEN, 60_000);
  agentOptions = {
    planner: `127.0.0.1:${port}`,
    deviceClass: CLASS,
    name: 'e2e-box',
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
  statusWhenOf(client, scope, what, ok, {
    everyMs,
    context: () => `planner: ${plannerTrouble.slice(-5).join(' | ')}`,
  });
const loopEnded = () => statusWhen('the closed loop to end', (s) => LOOP_ENDED.includes(s.loops[0]?.state));

describe('the closed loop across processes', () => {
  it('reports a policy no plan can meet, and deploys nothing', async () => {
    await setPolicy(client, CLASS, {
      models: [{ model: 'lenet5', latencyMs: undefined }],
      storageBytes: 1000,
    });
    const status = await loopEnded();
    expect(status.loops[0]).toMatchObject({ state: 'infeasible', unreachable: ['storage'] });
    expect(status.deployments).toEqual([]);
    expect(status.loops[0].detail).toMatch(/^tightest on the cost model, .*, storage \d/);
    const preview = await client.previewPlan(scope);
    expect(preview).toMatchObject({ feasible: false, unreachable: ['storage'] });
    expect(preview.tightest!.storageBytes).toBeGreaterThan(1000);
  }, 180_000);

  it('converges when the planner is killed -9 in the middle of a rollout, losing nothing', async () => {
    const storageBytes = Math.round(LENET.length / 2);
    await setPolicy(client, CLASS, { models: [{ model: 'lenet5', latencyMs: undefined }], storageBytes });
    // Kill as soon as a round's deployments are queued, before the device has verified them.
    const inFlight: GetStatusResponse = await statusWhen(
      'a round in flight',
      (status) => status.loops[0]?.state === 'deploying',
      50,
    );
    expect(inFlight.loops[0].detail).toBe('1 of 1 deployments in flight');
    await planner.kill();
    planner = await startPlanner(plannerOptions);

    const status = await loopEnded();
    const loop = status.loops[0];
    expect(loop.state).toBe('converged');
    // The restarted planner went on with the round it had started, rather than planning again.
    expect(loop.planId).toBe(inFlight.loops[0].planId);
    expect(status.deployments).toHaveLength(1);
    const deployment = status.deployments[0];
    expect(deployment).toMatchObject({ state: 'active', planId: loop.planId, deviceName: 'e2e-box' });
    // What the agent measured while the planner was down reached it (spooled, then delivered).
    expect(deployment.measured!.latencyMs).toBeGreaterThan(0);
    expect(Number(deployment.measured!.memoryBytes)).toBeGreaterThan(0);
    expect(Number(deployment.measured!.storageBytes)).toBeGreaterThan(0);
    expect(Number(deployment.measured!.storageBytes)).toBeLessThanOrEqual(storageBytes);

    // The class's cost model is now calibrated with what the device measured: planned again (only a
    // storage bound, so the same plan), it predicts the p95 and memory its device measured.
    const preview = await client.previewPlan(scope);
    const same = preview.models[0];
    expect(same.predicted!.latencyMs).toBeCloseTo(deployment.measured!.latencyMs, 6);
    expect(Number(same.predicted!.memoryBytes)).toBeCloseTo(Number(deployment.measured!.memoryBytes), -1);
  }, 240_000);

  it('converges when the agent is killed -9 while it installs a deployment, and restarted', async () => {
    const storageBytes = Math.round(LENET.length * 0.45);
    await setPolicy(client, CLASS, { models: [{ model: 'lenet5', latencyMs: undefined }], storageBytes });
    const inFlight = await statusWhen(
      'the device to take the deployment',
      (s) =>
        s.loops[0]?.state === 'deploying' && ['downloading', 'verifying'].includes(s.deployments[0]?.state),
      20,
    );
    await agent.kill();
    agent = await startAgent(agentOptions);

    const status = await loopEnded();
    expect(status.loops[0]).toMatchObject({ state: 'converged', planId: inFlight.loops[0].planId });
    expect(status.deployments).toHaveLength(1);
    expect(status.deployments[0].state).toBe('active');
    expect(Number(status.deployments[0].measured!.storageBytes)).toBeLessThanOrEqual(storageBytes);
  }, 240_000);

  it('deploys the converged plan to a device that joins the class afterwards', async () => {
    const before = await client.getStatus(scope);
    expect(before.loops[0].state).toBe('converged');
    const joined = await startAgent({ ...agentOptions, name: 'e2e-box-2', dataDir: join(dir, 'agent-2') });
    try {
      const status = await statusWhen(
        'the loop to converge again with both devices',
        (s) => s.loops[0].state === 'converged' && s.deployments.length === 2,
      );
      expect(status.loops[0].planId).toBe(before.loops[0].planId);
      expect(status.deployments.map((d) => [d.deviceName, d.state]).sort()).toEqual([
        ['e2e-box', 'active'],
        ['e2e-box-2', 'active'],
      ]);
    } finally {
      await joined.stop();
    }
  }, 240_000);

  it('rolls a round out to one canary device first, then to the rest once it meets the bounds', async () => {
    const second = await startAgent({ ...agentOptions, name: 'e2e-box-3', dataDir: join(dir, 'agent-3') });
    try {
      // Both devices serve the converged plan first (the new one joined).
      await statusWhen(
        'both devices on the converged plan',
        (s) => s.loops[0].state === 'converged' && s.deployments.length >= 2,
      );
      const storageBytes = Math.round(LENET.length * 0.4);
      await setPolicy(client, CLASS, { models: [{ model: 'lenet5', latencyMs: undefined }], storageBytes });
      const canary = await statusWhen(
        'the new round on one device',
        (s) => s.loops[0].state === 'deploying',
        20,
      );
      const onPlan = (s: GetStatusResponse) => s.deployments.filter((d) => d.planId === s.loops[0].planId);
      expect(onPlan(canary)).toHaveLength(1);
      const status = await statusWhen(
        'the round on both devices',
        (s) => s.loops[0].state === 'converged' && onPlan(s).length === 2,
      );
      expect(status.loops[0].planId).toBe(canary.loops[0].planId);
      expect(onPlan(status).map((d) => d.state)).toEqual(['active', 'active']);
    } finally {
      await second.stop();
    }
  }, 240_000);
});
