import { type GetStatusResponse } from '@blinknet/proto/v1/admin';
import { readReferenceModel, referenceModel } from '@blinknet/zoo';
import {
  type AgentOptions,
  classScope,
  type Daemon,
  setPolicy,
  startAgent,
  startPlanner,
  uploadModel,
} from './fleet';
import { type E2eFleet, startE2eFleet } from './harness';

// The closed loop with the planner and an agent as separate processes on 127.0.0.1: real gRPC,
// real SQLite, real onnxruntime, and kill -9.

const CLASS = 'e2e-1thread';
const scope = classScope(CLASS);
const LENET = readReferenceModel(referenceModel('lenet5-mnist'));

let fleet: E2eFleet;
let agentOptions: AgentOptions;
let agent: Daemon;

beforeAll(async () => {
  // Each round goes to one device first (only the last test has two).
  fleet = await startE2eFleet('loop', { maxRounds: 3, canaryDevices: 1 });
  agentOptions = fleet.agentOptions('e2e-box', CLASS, 1);
  agent = await startAgent(agentOptions);
  await uploadModel(fleet.client, 'lenet5', 'mnist', LENET);
}, 60_000);

afterAll(() => fleet?.stop(agent));

const statusWhen = (what: string, ok: (s: GetStatusResponse) => boolean, everyMs?: number) =>
  fleet.statusWhen(CLASS, what, ok, everyMs);
const loopEnded = () => fleet.loopEnded(CLASS);

describe('the closed loop across processes', () => {
  it('reports a policy no plan can meet, and deploys nothing', async () => {
    await setPolicy(fleet.client, CLASS, {
      models: [{ model: 'lenet5', latencyMs: undefined }],
      storageBytes: 1000,
    });
    const status = await loopEnded();
    expect(status.loops[0]).toMatchObject({ state: 'infeasible', unreachable: ['storage'] });
    expect(status.deployments).toEqual([]);
    expect(status.loops[0].detail).toMatch(/^tightest on the cost model, .*, storage \d/);
    const preview = await fleet.client.previewPlan(scope);
    expect(preview).toMatchObject({ feasible: false, unreachable: ['storage'] });
    expect(preview.tightest!.storageBytes).toBeGreaterThan(1000);
  }, 180_000);

  it('converges when the planner is killed -9 in the middle of a rollout, losing nothing', async () => {
    const storageBytes = Math.round(LENET.length / 2);
    await setPolicy(fleet.client, CLASS, {
      models: [{ model: 'lenet5', latencyMs: undefined }],
      storageBytes,
    });
    // Kill as soon as a round's deployments are queued, before the device has verified them.
    const inFlight: GetStatusResponse = await statusWhen(
      'a round in flight',
      (status) => status.loops[0]?.state === 'deploying',
      50,
    );
    expect(inFlight.loops[0].detail).toBe('1 of 1 deployments in flight');
    await fleet.planner.kill();
    fleet.planner = await startPlanner(fleet.plannerOptions);

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
    // storage bound, so the same plan), it predicts the p95 its device measured, and at least the
    // memory (calibration adds the largest excess a plan showed, and takes nothing off for a plan that
    // took less than predicted).
    const preview = await fleet.client.previewPlan(scope);
    const same = preview.models[0];
    const approximated = same.layers.filter((l) => l.option !== 'exact');
    expect(Object.fromEntries(approximated.map((l) => [l.layer, l.option]))).toEqual(
      deployment.ladder[0].options,
    );
    expect(same.predicted!.latencyMs).toBeCloseTo(deployment.measured!.latencyMs, 6);
    const measuredMemory = Number(deployment.measured!.memoryBytes);
    expect(Number(same.predicted!.memoryBytes)).toBeGreaterThanOrEqual(measuredMemory - 1);
    expect(Number(same.predicted!.memoryBytes)).toBeLessThan(1.1 * measuredMemory);
  }, 240_000);

  it('converges when the agent is killed -9 while it installs a deployment, and restarted', async () => {
    const storageBytes = Math.round(LENET.length * 0.45);
    await setPolicy(fleet.client, CLASS, {
      models: [{ model: 'lenet5', latencyMs: undefined }],
      storageBytes,
    });
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
    const before = await fleet.client.getStatus(scope);
    expect(before.loops[0].state).toBe('converged');
    const joined = await startAgent(fleet.agentOptions('e2e-box-2', CLASS, 1));
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
    const second = await startAgent(fleet.agentOptions('e2e-box-3', CLASS, 1));
    try {
      // Both devices serve the converged plan first (the new one joined).
      await statusWhen(
        'both devices on the converged plan',
        (s) => s.loops[0].state === 'converged' && s.deployments.length >= 2,
      );
      const storageBytes = Math.round(LENET.length * 0.4);
      await setPolicy(fleet.client, CLASS, {
        models: [{ model: 'lenet5', latencyMs: undefined }],
        storageBytes,
      });
      const canary = await statusWhen(
        'the new round on one device',
        (s) => s.loops[0].state === 'deploying',
        20,
      );
      const onPlan = (s: GetStatusResponse) => s.deployments.filter((d) => d.planId === s.loops[0].planId);
      expect(onPlan(canary)).toHaveLength(1);
      // The loop says converged only once the rest of the scope has the plan too.
      const status = await loopEnded();
      expect(status.loops[0]).toMatchObject({ state: 'converged', planId: canary.loops[0].planId });
      expect(onPlan(status).map((d) => d.state)).toEqual(['active', 'active']);
    } finally {
      await second.stop();
    }
  }, 240_000);
});
