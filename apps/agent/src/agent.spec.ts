import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { applyPlan } from '@blinknet/approx';
import { decodeModel, encodeModel, ModelBuilder } from '@blinknet/onnx';
import { EventKind, MeasurementKind } from '@blinknet/proto/v1/agent';
import { type InferResponse, LocalRuntimeServiceClient } from '@blinknet/proto/v1/runtime';
import { OrtMatrixEngine } from '@blinknet/runtime';
import { buildNetwork, readReferenceModel, referenceModel } from '@blinknet/zoo';
import { Agent } from './agent';
import { type AgentConfig } from './config';
import { IDENTITY_FILE } from './identity';
import { tensorToProto } from './runtime-server';
import { ENROLLMENT_SECRET, MinimalPlanner } from './testing/minimal-planner';

// BLINKNET_TEST_LOG=debug shows the agents' logs.
const log = pino({ level: process.env.BLINKNET_TEST_LOG ?? 'silent' });
const dirs: string[] = [];
const running: Agent[] = [];
const planners: MinimalPlanner[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  for (const p of planners.splice(0)) p.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(planner: MinimalPlanner, dataDir: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    planner: planner.address,
    deviceClass: 'test-class',
    dataDir,
    name: 'device-1',
    threads: 1,
    enrollmentSecret: ENROLLMENT_SECRET,
    listen: '127.0.0.1:0',
    logLevel: 'silent',
    ...overrides,
  };
}

async function planner(port = 0): Promise<MinimalPlanner> {
  const p = await new MinimalPlanner().start(port);
  planners.push(p);
  return p;
}

async function agent(c: AgentConfig): Promise<Agent> {
  const a = await Agent.start(c, log);
  running.push(a);
  return a;
}

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'blinknet-agent-'));
  dirs.push(d);
  return d;
}

async function waitFor(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lenetRef = referenceModel('lenet5-mnist');
const lenetBytes = readReferenceModel(lenetRef);

describe('registration', () => {
  it('registers once, keeps the token in a 0600 file and reuses it after a restart', async () => {
    const p = await planner();
    const dir = dataDir();
    const first = await agent(config(p, dir));
    expect(p.registrations).toEqual(['device-1']);
    const identityPath = join(dir, IDENTITY_FILE);
    expect(statSync(identityPath).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(identityPath, 'utf8'));
    expect(saved).toMatchObject({ deviceId: 'device-device-1', token: first.identity.token });
    await running.pop()!.stop();

    // A restart needs no secret: the saved token authenticates the reports.
    const second = await agent(config(p, dir, { enrollmentSecret: undefined }));
    expect(p.registrations).toEqual(['device-1']);
    expect(second.identity.token).toBe(first.identity.token);
    second.report([], []);
    await waitFor(() => p.batches.size === 1);
  });

  it('a wrong enrollment secret fails the start and saves nothing', async () => {
    const p = await planner();
    const dir = dataDir();
    await expect(Agent.start(config(p, dir, { enrollmentSecret: 'wrong' }), log)).rejects.toThrow(
      /PERMISSION_DENIED|wrong enrollment secret/,
    );
    expect(() => statSync(join(dir, IDENTITY_FILE))).toThrow();
  });
});

describe('reporting', () => {
  it('spools through a planner outage and an agent restart; every batch is stored exactly once', async () => {
    const p = await planner();
    const port = p.port;
    const dir = dataDir();
    const a = await agent(config(p, dir));
    const measurement = (i: number) => ({
      jobId: `job-${i}`,
      modelSha256: 'x',
      kind: MeasurementKind.MEASUREMENT_KIND_MODEL_LATENCY,
      layer: '',
      option: '',
      latency: undefined,
      memory: undefined,
      context: undefined,
      measuredAtUnixMs: i,
      nodeTimings: [],
    });
    a.report([measurement(0)]);
    await waitFor(() => p.batches.size === 1);

    p.stop(); // outage
    for (let i = 1; i <= 5; i++) a.report([measurement(i)]);
    await running.pop()!.stop(); // restart while the planner is down
    expect(a.spool.pending()).toHaveLength(5);
    const b = await agent(config(p, dir));
    for (let i = 6; i <= 8; i++) b.report([measurement(i)]);

    await p.start(port); // the planner, and the database behind it, come back on the same address
    await waitFor(() => p.batches.size === 9, 90_000);
    const ids = p.measurements().map((m) => m.jobId);
    expect(ids.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => `job-${i}`).sort());
    expect(p.deliveries).toBeGreaterThanOrEqual(9); // repeats, if any, were stored once
    // The acknowledgement reaches the agent just after the planner stored the batches.
    await waitFor(() => b.spool.pending().length === 0);
  }, 120_000);
});

describe('jobs', () => {
  it('profiles CIFAR-10-quick after resuming an interrupted download; layer medians add up', async () => {
    const p = await planner();
    const model = buildNetwork('cifar10-quick');
    const bytes = encodeModel(model);
    const ref = p.addArtifact(bytes);
    p.breakNextFetchAfter = 200 * 1024;
    const layers = model.graph!.node.filter((n) => ['Conv', 'Gemm'].includes(n.opType)).map((n) => n.name);
    const jobId = p.push({
      profile: {
        model: ref,
        layers: layers.map((layer) => ({ layer, options: ['exact', 'int8:compute'] })),
        batchSize: 1,
        timedRuns: 0,
      },
      deploy: undefined,
    });
    await agent(config(p, dataDir()));
    await waitFor(() => p.measurements().some((m) => m.jobId === jobId), 120_000);

    // The second fetch resumed where the broken stream stopped.
    expect(p.fetchOffsets[0]).toBe(0);
    expect(p.fetchOffsets[1]).toBe(192 * 1024); // whole 64 KiB chunks before the break
    const figures = p.measurements().filter((m) => m.jobId === jobId);
    const layerFigures = figures.filter((m) => m.kind === MeasurementKind.MEASUREMENT_KIND_LAYER_LATENCY);
    expect(layerFigures).toHaveLength(layers.length * 2);
    for (const m of figures) expect(m.context).toMatchObject({ intraOpThreads: 1, executionProvider: 'cpu' });
    const e2e = figures.find((m) => m.kind === MeasurementKind.MEASUREMENT_KIND_MODEL_LATENCY)!;
    const sum = layerFigures.filter((m) => m.option === 'exact').reduce((s, m) => s + m.latency!.medianMs, 0);
    expect(sum / e2e.latency!.medianMs).toBeGreaterThan(0.2);
    expect(sum / e2e.latency!.medianMs).toBeLessThan(10);
    // The profiled run attributes time per node, for the report.
    expect(e2e.nodeTimings.length).toBeGreaterThan(3);
    expect(e2e.nodeTimings.reduce((t, n) => t + n.share, 0)).toBeCloseTo(1, 3);
    const memory = figures.find((m) => m.kind === MeasurementKind.MEASUREMENT_KIND_MODEL_MEMORY)!;
    expect(memory.memory!.artifactBytes).toBe(bytes.length);
    expect(memory.memory!.residentBytes).toBeGreaterThan(0);
  }, 180_000);

  it('rejects an artifact whose hash does not match; the deployed model keeps serving, restarts included', async () => {
    const p = await planner();
    const a = await agent(config(p, dataDir()));
    const good = p.addArtifact(lenetBytes);
    await a.deploy('d1', { deploymentId: 'd1', model: 'digits', ladder: [good], bounds: undefined });
    // Bytes that are not what the sha256 promises.
    const forged = p.addArtifact(Uint8Array.from(lenetBytes).reverse(), 'ab'.repeat(32));
    await expect(
      a.deploy('d2', { deploymentId: 'd2', model: 'digits', ladder: [forged], bounds: undefined }),
    ).rejects.toThrow(/sha256/);
    expect(a.runtime.current('digits').sha256).toBe(good.sha256);
    const input = { data: new Float32Array(32 * 32), dims: [1, 1, 32, 32] };
    expect((await a.runtime.infer('digits', input)).sha256).toBe(good.sha256);
    await waitFor(() => p.events().some((e) => e.deploymentId === 'd2' && e.detail.startsWith('failed')));
    await waitFor(() => p.events().some((e) => e.deploymentId === 'd1' && e.detail === 'active'));

    // Restarted, the device serves its active release again.
    await running.splice(running.indexOf(a), 1)[0].stop();
    const restarted = await agent(a.config);
    expect(restarted.runtime.current('digits').sha256).toBe(good.sha256);
    expect((await restarted.runtime.infer('digits', input)).sha256).toBe(good.sha256);
  }, 120_000);
});

describe('local runtime', () => {
  it('hot-swaps ladder variants under concurrent Infer calls with zero failed requests', async () => {
    const p = await planner();
    const a = await agent(config(p, dataDir()));
    const engine = new OrtMatrixEngine(1);
    const lenet = decodeModel(lenetBytes);
    const tighter = encodeModel(
      await applyPlan(lenet, { '/classifier/classifier.1/Gemm': 'int8:storage' }, { engine }),
    );
    await engine.dispose();
    const ladder = [p.addArtifact(lenetBytes), p.addArtifact(tighter)];
    await a.deploy('d1', { deploymentId: 'd1', model: 'digits', ladder, bounds: undefined });

    const client = new LocalRuntimeServiceClient(a.localAddress, credentials.createInsecure());
    const input = tensorToProto({ data: new Float32Array(32 * 32).fill(0.5), dims: [1, 1, 32, 32] });
    const infer = () =>
      new Promise<InferResponse>((resolve, reject) =>
        client.infer({ model: 'digits', input }, (e, r) => (e ? reject(e) : resolve(r))),
      );
    let stop = false;
    const answeredBy = new Set<string>();
    let answered = 0;
    const callers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const response = await infer(); // any failure rejects the test
        expect(response.output!.dims).toEqual([1, 10]);
        answeredBy.add(response.artifactSha256);
        answered++;
      }
    });
    for (let i = 0; i < 6; i++) {
      await a.runtime.switchTo('digits', (i + 1) % 2);
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
    await Promise.all(callers);
    client.close();
    expect(answeredBy).toEqual(new Set(ladder.map((r) => r.sha256)));
    expect(answered).toBeGreaterThan(20);

    const unknown = new Promise((resolve, reject) =>
      new LocalRuntimeServiceClient(a.localAddress, credentials.createInsecure()).infer(
        { model: 'nope', input },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    await expect(unknown).rejects.toThrow(/NOT_FOUND|not served/);
  }, 120_000);

  it('steps down its ladder when load pushes p95 past the bound, and reports it', async () => {
    const p = await planner();
    const a = await agent(config(p, dataDir()));
    // Two variants of one net: the tighter one has 1/8 of the hidden channels.
    const net = (hidden: number) => {
      const b = new ModelBuilder({ name: `net-${hidden}` });
      const x = b.input('x', [1, 16, 32, 32]);
      const h = b.relu(b.conv(x, { name: 'c1', outChannels: hidden, kernel: 3, pad: 1 }), 'r1');
      b.output(b.conv(h, { name: 'c2', outChannels: 16, kernel: 3, pad: 1 }));
      return encodeModel(b.build());
    };
    const ladder = [p.addArtifact(net(64)), p.addArtifact(net(8))];
    const one = { data: new Float32Array(16 * 32 * 32).fill(0.1), dims: [1, 16, 32, 32] };
    // The bound sits between the plan's latency for one image and for a batch, both measured here so
    // that machine load scales them alike: the deployment verifies at batch 1...
    await a.deploy('probe', { deploymentId: 'probe', model: 'net', ladder, bounds: undefined });
    const median = async (input: typeof one, runs: number) => {
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) samples.push((await a.runtime.infer('net', input)).latencyMs);
      return samples.sort((x, y) => x - y)[Math.floor(runs / 2)];
    };
    // (the log-midpoint of batch 1 and batch 128: about 10x either way, a margin that survives a loaded
    // machine)...
    const heavy = { data: new Float32Array(128 * one.data.length).fill(0.1), dims: [128, 16, 32, 32] };
    const outcome = (id: string) =>
      p.events().find((e) => e.deploymentId === id && ['active', 'rolled-back', 'failed'].includes(e.detail));
    let bound = 0;
    // A load spike on a shared CI machine can still push the 200 verification runs past it: measure
    // again and redeploy (what this test is about is the step-down that follows).
    for (let attempt = 1; ; attempt++) {
      bound = Math.sqrt((await median(one, 31)) * (await median(heavy, 11)));
      const id = `d${attempt}`;
      await a.deploy(id, {
        deploymentId: id,
        model: 'net',
        ladder,
        bounds: { latencyMs: bound, latencyPercentile: 95, memoryBytes: 0, storageBytes: 0 },
      });
      await waitFor(() => outcome(id) !== undefined);
      if (outcome(id)!.detail === 'active') break;
      if (attempt === 3) throw new Error(`verification failed 3 times: ${JSON.stringify(p.events())}`);
    }
    expect(a.runtime.current('net').step).toBe(0);
    const verificationViolations = p
      .events()
      .filter((e) => e.kind === EventKind.EVENT_KIND_BOUND_VIOLATED).length;
    // ...then load: batches of 128 take longer than the bound on the plan.
    for (let i = 0; i < 200 && a.runtime.current('net').step === 0; i++) await a.runtime.infer('net', heavy);
    await waitFor(() => a.runtime.current('net').step === 1, 10_000);
    await waitFor(() => p.events().some((e) => e.kind === EventKind.EVENT_KIND_LADDER_STEP_DOWN));
    const violation = p
      .events()
      .filter((e) => e.kind === EventKind.EVENT_KIND_BOUND_VIOLATED)
      .slice(verificationViolations)[0];
    expect(violation.model).toBe('net');
    expect(violation.observed).toBeGreaterThan(bound);
    expect(violation.artifactSha256).toBe(ladder[0].sha256);
  }, 120_000);
});
