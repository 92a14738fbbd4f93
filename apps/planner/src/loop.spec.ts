import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Agent } from '@blinknet/agent';
import {
  AdminServiceClient,
  type GetStatusResponse,
  Policy,
  type PolicyScope,
  type SetPolicyResponse,
} from '@blinknet/proto/v1/admin';
import { readReferenceModel, referenceModel } from '@blinknet/zoo';
import { Planner } from './planner';
import { bearer, call as rawCall, upload } from './testing/admin';

const TOKEN = 'loop-test-token';
const SECRET = 'fleet-secret';
let dir: string;
let planner: Planner;
let client: AdminServiceClient;
let agent: Agent;

const call = <Res>(
  invoke: (metadata: Metadata, callback: (error: ServiceError | null, response: Res) => void) => unknown,
) => rawCall(invoke, bearer(TOKEN));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blinknet-loop-'));
  const log = pino({ level: process.env.BLINKNET_TEST_LOG ?? 'silent' });
  planner = await Planner.start(
    {
      port: 0,
      dataDir: join(dir, 'planner'),
      enrollmentSecret: SECRET,
      adminToken: TOKEN,
      calibrationImages: 300,
      maxRounds: 3,
      replanAfterS: 2,
      logLevel: 'silent',
    },
    log,
  );
  client = new AdminServiceClient(`127.0.0.1:${planner.port}`, credentials.createInsecure());
  agent = await Agent.start(
    {
      planner: `127.0.0.1:${planner.port}`,
      deviceClass: 'x86-1t',
      dataDir: join(dir, 'agent'),
      name: 'box-1',
      threads: 1,
      enrollmentSecret: SECRET,
      listen: '127.0.0.1:0',
      logLevel: 'silent',
    },
    log,
  );
});

afterAll(async () => {
  client.close();
  await agent.stop();
  await planner.stop();
  rmSync(dir, { recursive: true, force: true });
});

const scope: PolicyScope = { deviceClass: 'x86-1t', deviceId: undefined };
const setPolicy = (p: Partial<Policy>) =>
  call<SetPolicyResponse>((m, cb) =>
    client.setPolicy(
      {
        policy: Policy.fromPartial({
          scope,
          models: [{ model: 'lenet5', latencyMs: undefined }],
          latencyPercentile: 95,
          ...p,
        }),
      },
      m,
      cb,
    ),
  );
const status = () => call<GetStatusResponse>((m, cb) => client.getStatus({ scope }, m, cb));

/** Waits for the loop of the scope's policy to end; returns the final status. */
async function outcome(timeoutMs = 300_000): Promise<GetStatusResponse> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = await status();
    if (['converged', 'failed', 'infeasible'].includes(now.loops[0]?.state)) return now;
    if (Date.now() > until) throw new Error(`loop still ${JSON.stringify(now.loops)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('the closed loop', () => {
  it('profiles, plans, deploys and verifies on the device with nobody deploying by hand', async () => {
    const bytes = readReferenceModel(referenceModel('lenet5-mnist'));
    await upload(client, bytes, { name: 'lenet5', datasetId: 'mnist' }, bearer(TOKEN));
    // Half the file: the planner must approximate, and storage is exact, so round 1 can meet it.
    const bound = Math.round(0.5 * bytes.length);
    await setPolicy({ storageBytes: bound });
    expect((await status()).loops[0].state).toBe('waiting');

    const done = await outcome();
    const loop = done.loops[0];
    expect(loop.round).toBeGreaterThanOrEqual(1);
    expect(loop.round).toBeLessThanOrEqual(3);
    expect(loop.state).toBe('converged');
    const [deployment] = done.deployments;
    expect(deployment).toMatchObject({ model: 'lenet5', state: 'active', planId: loop.planId });
    expect(Number(deployment.measured!.storageBytes)).toBeLessThanOrEqual(bound);
    expect(deployment.measured!.latencyMs).toBeGreaterThan(0);
    expect(deployment.measured!.accuracy).toBeGreaterThan(0.5);
    expect(agent.runtime.current('lenet5').step).toBe(0);

    // A bound no plan can meet ends the loop at once, naming it; nothing new is deployed.
    await setPolicy({ storageBytes: 1000 });
    const infeasible = (await outcome()).loops[0];
    expect(infeasible).toMatchObject({ state: 'infeasible', unreachable: ['storage'] });
    expect((await status()).deployments.map((d) => d.planId)).toEqual([loop.planId]);
  }, 600_000);

  it('plans again when a device stays stepped down its ladder (more load than it was verified under)', async () => {
    const bytes = readReferenceModel(referenceModel('lenet5-mnist'));
    await setPolicy({
      models: [{ model: 'lenet5', latencyMs: 1000 }],
      storageBytes: Math.round(0.5 * bytes.length),
    });
    const converged = (await outcome()).loops[0];
    expect(converged.state).toBe('converged');
    // The device serves under load its verification did not see: every request far over the bound.
    for (let i = 0; i < 60; i++) agent.onLatency('lenet5', 5000);
    const until = Date.now() + 120_000;
    let now = await status();
    while (now.loops[0].round === converged.round || now.loops[0].state !== 'converged') {
      if (Date.now() > until) throw new Error(`no new round: ${JSON.stringify(now.loops)}`);
      await new Promise((r) => setTimeout(r, 500));
      now = await status();
    }
    expect(now.loops[0].round).toBe(converged.round + 1);
    expect(now.deployments[0]).toMatchObject({ state: 'active', planId: now.loops[0].planId });
  }, 300_000);
});
