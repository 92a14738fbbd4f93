import { chmodSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readReferenceModel, referenceModel } from '@blinknet/zoo';
import {
  type AgentOptions,
  type Daemon,
  type LogLine,
  servedModels,
  setPolicy,
  startAgent,
  until,
  uploadModel,
} from './fleet';
import { type E2eFleet, startE2eFleet } from './harness';

// Artifacts damaged on their way to a device, across processes: the planner and an agent on
// 127.0.0.1 with real gRPC, SQLite and onnxruntime.

const CLASS = 'e2e-artifacts';
const LENET = readReferenceModel(referenceModel('lenet5-mnist'));

let fleet: E2eFleet;
let agentOptions: AgentOptions;
let agent: Daemon;

beforeAll(async () => {
  fleet = await startE2eFleet('artifacts');
  agentOptions = fleet.agentOptions('e2e-artifacts-box', CLASS, 1);
  agent = await startAgent(agentOptions);
  await uploadModel(fleet.client, 'lenet5', 'mnist', LENET);
}, 60_000);

afterAll(() => fleet?.stop(agent));

const loopEnded = () => fleet.loopEnded(CLASS);

describe('artifacts on their way to a device', () => {
  beforeAll(async () => {
    await setPolicy(fleet.client, CLASS, {
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
    const artifacts = join(fleet.plannerOptions.dataDir, 'artifacts');
    const existing = new Set(readdirSync(artifacts));
    const storageBytes = Math.round(LENET.length * 0.42);
    await setPolicy(fleet.client, CLASS, {
      models: [{ model: 'lenet5', latencyMs: undefined }],
      storageBytes,
    });
    const first = await fleet.statusWhen(
      CLASS,
      'the round queued',
      (s) => s.loops[0]?.state === 'deploying',
      50,
    );
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

  it('rolls back a release found damaged on the device at a restart, then serves the plan again', async () => {
    const ended = await loopEnded();
    const [served] = await servedModels(agent);
    const models = join(agentOptions.dataDir, 'models');
    const state = JSON.parse(readFileSync(join(models, 'state.json'), 'utf8')) as {
      models: Record<string, { current: string[]; deployment: string; previous: string[] }>;
    };
    const release = state.models.lenet5;
    expect(release.current[0]).toBe(served.artifactSha256);
    expect(release.deployment).toBe(ended.deployments[0].id);
    // While the device is off, its card loses the file's tail (onnxruntime cannot load what is left).
    await agent.stop();
    const damaged = join(models, 'artifacts', `${served.artifactSha256}.onnx`);
    chmodSync(damaged, 0o600);
    truncateSync(damaged, statSync(damaged).size >> 1);

    let rolledBack: LogLine | undefined;
    agent = await startAgent({
      ...agentOptions,
      onLog: (line) => {
        if (String(line.msg).startsWith('release cannot be served')) rolledBack ??= line;
      },
    });
    // Ready means serving: the previous release, at once.
    expect(rolledBack).toMatchObject({
      msg: 'release cannot be served: rolled back to the previous one',
      artifact: served.artifactSha256,
      serving: release.previous[0],
    });
    expect((await servedModels(agent))[0].artifactSha256).toBe(release.previous[0]);

    // The planner learns the deployment was rolled back and deploys the same plan here again: the
    // file is fetched whole and verified, and the loop ends converged in the same round.
    await until(
      'the plan served again',
      async () =>
        (await servedModels(agent))[0].artifactSha256 === served.artifactSha256 ? true : undefined,
      60_000,
    );
    const status = await fleet.statusWhen(
      CLASS,
      'the loop converged again',
      (s) => s.loops[0]?.state === 'converged' && s.deployments[0]?.id !== ended.deployments[0].id,
    );
    expect(status.loops[0].round).toBe(ended.loops[0].round);
    expect(status.loops[0].planId).toBe(ended.loops[0].planId);
    expect(status.deployments[0].state).toBe('active');
    expect(statSync(damaged).size).toBe(
      statSync(join(fleet.plannerOptions.dataDir, 'artifacts', `${served.artifactSha256}.onnx`)).size,
    );
  }, 180_000);
});
