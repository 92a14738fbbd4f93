import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Agent } from '@blinknet/agent';
import {
  AdminServiceClient,
  type DeletePolicyResponse,
  type DeployResponse,
  type GetStatusResponse,
  type GetPolicyResponse,
  type ListDeviceClassesResponse,
  type ListDevicesResponse,
  type ListModelVersionsResponse,
  Policy,
  type PolicyScope,
  type PreviewPlanResponse,
  type SetPolicyResponse,
} from '@blinknet/proto/v1/admin';
import { DataType, encodeModel, ModelBuilder, valueInfo } from '@blinknet/onnx';
import { readReferenceModel, referenceModel } from '@blinknet/zoo';
import { Planner } from './planner';
import { bearer, call as rawCall, upload as rawUpload } from './testing/admin';

const TOKEN = 'admin-test-token';
const SECRET = 'fleet-secret';
let dir: string;
let planner: Planner;
let client: AdminServiceClient;
const agents: Agent[] = [];

const auth = (token = TOKEN) => bearer(token);
const call = <Res>(
  invoke: (metadata: Metadata, callback: (error: ServiceError | null, response: Res) => void) => unknown,
  metadata = auth(),
) => rawCall(invoke, metadata);
const upload = (bytes: Uint8Array, header: Parameters<typeof rawUpload>[2], metadata = auth()) =>
  rawUpload(client, bytes, header, metadata);

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blinknet-admin-'));
  planner = await Planner.start(
    {
      port: 0,
      dataDir: dir,
      enrollmentSecret: SECRET,
      adminToken: TOKEN,
      // A small calibration split keeps the accuracy models quick; the ladder is the real one.
      calibrationImages: 300,
      // Deployments by hand here: the closed loop has its own test.
      maxRounds: 0,
      logLevel: 'silent',
    },
    pino({ level: process.env.BLINKNET_TEST_LOG ?? 'silent' }),
  );
  client = new AdminServiceClient(`127.0.0.1:${planner.port}`, credentials.createInsecure());
});

afterEach(async () => {
  client.close();
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await planner.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startAgent(deviceClass: string): Promise<Agent> {
  const agent = await Agent.start(
    {
      planner: `127.0.0.1:${planner.port}`,
      deviceClass,
      dataDir: join(dir, `agent-${agents.length}`),
      name: `box-${agents.length}`,
      threads: 1,
      enrollmentSecret: SECRET,
      listen: '127.0.0.1:0',
      logLevel: 'silent',
    },
    pino({ level: process.env.BLINKNET_TEST_LOG ?? 'silent' }),
  );
  agents.push(agent);
  return agent;
}

const lenet = () => readReferenceModel(referenceModel('lenet5-mnist'));
const cifar = () => readReferenceModel(referenceModel('cifar10quick-fmnist'));
const scope: PolicyScope = { deviceClass: 'x86-1t', deviceId: undefined };
const policy = (p: Partial<Policy>): Policy => Policy.fromPartial({ scope, latencyPercentile: 95, ...p });

describe('AdminService', () => {
  it('refuses a wrong or missing admin token, writing nothing', async () => {
    await expect(upload(lenet(), { name: 'lenet5' }, auth('wrong'))).rejects.toThrow(/UNAUTHENTICATED/);
    await expect(
      call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb), new Metadata()),
    ).rejects.toThrow(/UNAUTHENTICATED/);
    await expect(
      call<SetPolicyResponse>(
        (m, cb) => client.setPolicy({ policy: policy({ models: [{ model: 'x' }] }) }, m, cb),
        auth(''),
      ),
    ).rejects.toThrow(/UNAUTHENTICATED/);
    expect(
      (await call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb))).versions,
    ).toEqual([]);
  });

  it('rejects corrupt, truncated and mislabelled uploads with nothing stored; a repeat is idempotent', async () => {
    const bytes = lenet();
    const corrupt = Buffer.from(bytes);
    corrupt.fill(0xff, 100, 400);
    await expect(upload(corrupt, { name: 'lenet5' })).rejects.toThrow(/INVALID_ARGUMENT: model:/);
    await expect(upload(bytes.subarray(0, 1000), { name: 'lenet5', bytes: bytes.length })).rejects.toThrow(
      /INVALID_ARGUMENT: upload: truncated/,
    );
    await expect(upload(bytes, { name: 'lenet5', sha256: '0'.repeat(64) })).rejects.toThrow(
      /INVALID_ARGUMENT: sha256: the bytes hash to/,
    );
    await expect(upload(bytes, { name: 'lenet5', datasetId: 'imagenet' })).rejects.toThrow(
      /unknown data set 'imagenet'/,
    );
    const odd = new ModelBuilder({ name: 'odd' });
    odd.output(odd.conv(odd.input('x', [1, 1, 27, 27]), { name: 'c', outChannels: 4, kernel: 3 }));
    await expect(upload(encodeModel(odd.build()), { name: 'odd', datasetId: 'mnist' })).rejects.toThrow(
      /input \[1, 1, 27, 27\] does not take mnist images/,
    );
    // An op shape inference does not know (Softsign) is refused unless the model declares its shapes;
    // then it stays exact and the layers around it are still offered.
    const soft = new ModelBuilder({ name: 'soft' });
    const h = soft.relu(
      soft.conv(soft.input('x', [1, 1, 8, 8]), { name: 'c', outChannels: 4, kernel: 3 }),
      'act',
    );
    soft.output(soft.gemm(soft.flatten(h, 'flat'), 'fc', 10));
    const softModel = soft.build();
    const act = softModel.graph!.node.find((n) => n.opType === 'Relu')!;
    act.opType = 'Softsign';
    await expect(upload(encodeModel(softModel), { name: 'soft' })).rejects.toThrow(
      /does not support op 'Softsign'; export the model with the shapes of its intermediate tensors/,
    );
    expect(
      (await call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb))).versions,
    ).toEqual([]);
    softModel.graph!.valueInfo = [valueInfo(act.output[0], DataType.FLOAT, ['N', 4, 6, 6])];
    const accepted = await upload(encodeModel(softModel), { name: 'soft' });
    expect(accepted.version).toMatchObject({ layers: 2 });

    const first = await upload(bytes, { name: 'lenet5', datasetId: 'mnist' });
    expect(first.created).toBe(true);
    expect(first.version).toMatchObject({
      model: 'lenet5',
      bytes: bytes.length,
      layers: 5,
      inputDims: [1, 1, 32, 32],
    });
    const again = await upload(bytes, { name: 'lenet5', datasetId: 'mnist' });
    expect(again).toMatchObject({ created: false, version: { sha256: first.version!.sha256 } });
    expect(
      (await call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb))).versions,
    ).toHaveLength(2);
  }, 60_000);

  it('computes the accuracy model as agreement on inputs supplied with the upload', async () => {
    const b = new ModelBuilder({ name: 'tiny', seed: 5 });
    const h = b.relu(b.conv(b.input('x', [1, 1, 8, 8]), { name: 'c', outChannels: 8, kernel: 3 }), 'r');
    b.output(b.gemm(b.flatten(h, 'f'), 'fc', 10));
    const bytes = encodeModel(b.build());
    let seed = 7;
    const sample = () =>
      Float32Array.from({ length: 64 }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
    const samples = (n: number) =>
      new Uint8Array(Float32Array.from(Array.from({ length: n }, sample).flatMap((x) => [...x])).buffer);
    await expect(upload(bytes, { name: 'tiny', inputs: samples(3) })).rejects.toThrow(
      /at least 4 whole float32 samples/,
    );
    await expect(upload(bytes, { name: 'tiny', inputs: samples(8).subarray(0, 1000) })).rejects.toThrow(
      /inputs_bytes: 1000 bytes are not/,
    );
    await expect(upload(bytes, { name: 'tiny', datasetId: 'mnist', inputs: samples(8) })).rejects.toThrow(
      /supply inputs or name a data set, not both|does not take mnist images/,
    );
    await upload(bytes, { name: 'tiny', inputs: samples(40) });
    await waitFor(
      async () =>
        (await call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb))).versions[0]
          .accuracyState === 'ready',
      60_000,
    );
    const [version] = (await call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb)))
      .versions;
    // The labels are the original's own classes: it agrees with itself on both halves of the inputs.
    expect(version).toMatchObject({
      calibrationAccuracy: 1,
      heldOutAccuracy: 1,
      optionsEvaluated: version.options,
    });
  }, 120_000);

  it('refuses bad policies naming the field, and unknown classes and models', async () => {
    await upload(lenet(), { name: 'lenet5', datasetId: 'mnist' });
    await expect(
      call<SetPolicyResponse>((m, cb) =>
        client.setPolicy({ policy: policy({ models: [{ model: 'lenet5' }], totalLatencyMs: 1 }) }, m, cb),
      ),
    ).rejects.toThrow(/NOT_FOUND: no device class 'x86-1t'/);
    await startAgent('x86-1t');
    const bad: [Partial<Policy>, RegExp][] = [
      [{ models: [{ model: 'lenet5' }], totalLatencyMs: -1 }, /total_latency_ms: must be a number > 0/],
      [{ models: [{ model: 'lenet5', latencyMs: 0 }] }, /models.lenet5.latency_ms: must be a number > 0/],
      [{ models: [{ model: 'lenet5' }], memoryBytes: 0 }, /memory_bytes: must be a number > 0/],
      [{ models: [{ model: 'lenet5' }] }, /set at least one bound/],
      [{ models: [] }, /name at least one model/],
      [{ models: [{ model: 'lenet5' }], storageBytes: 1, latencyMargin: 1.5 }, /latency_margin: must be in/],
      [{ models: [{ model: 'lenet5' }], storageBytes: 1, latencyPercentile: 90 }, /must be 50, 95 or 99/],
    ];
    for (const [p, message] of bad) {
      await expect(
        call<SetPolicyResponse>((m, cb) => client.setPolicy({ policy: policy(p) }, m, cb)),
      ).rejects.toThrow(message);
    }
    await expect(
      call<SetPolicyResponse>((m, cb) =>
        client.setPolicy({ policy: policy({ models: [{ model: 'nope' }], storageBytes: 1 }) }, m, cb),
      ),
    ).rejects.toThrow(/NOT_FOUND: no model named 'nope'/);
    await expect(call<GetPolicyResponse>((m, cb) => client.getPolicy({ scope }, m, cb))).rejects.toThrow(
      /NOT_FOUND: no policy for device class/,
    );
  }, 60_000);

  it('plans CIFAR-10-quick and LeNet-5 together under joint bounds from a profiled class', async () => {
    const agent = await startAgent('x86-1t');
    await upload(cifar(), { name: 'cifar10-quick', datasetId: 'fashion-mnist' });
    await upload(lenet(), { name: 'lenet5', datasetId: 'mnist' });
    // Preview before anything is known: a clear precondition, not a guess.
    const models = [{ model: 'cifar10-quick' }, { model: 'lenet5' }];
    const set = await call<SetPolicyResponse>((m, cb) =>
      client.setPolicy({ policy: policy({ models, storageBytes: 1e9 }) }, m, cb),
    );
    expect(set.profileJobs).toBe(2);
    await expect(call<PreviewPlanResponse>((m, cb) => client.previewPlan({ scope }, m, cb))).rejects.toThrow(
      /FAILED_PRECONDITION/,
    );

    // The agent profiles both models; the planner computes both accuracy models meanwhile.
    await waitFor(async () => {
      const [classes, versions] = await Promise.all([
        call<ListDeviceClassesResponse>((m, cb) => client.listDeviceClasses({}, m, cb)),
        call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb)),
      ]);
      return (
        classes.classes[0]?.profiledModels.length === 2 &&
        versions.versions.every((v) => v.accuracyState === 'ready')
      );
    });
    const devices = await call<ListDevicesResponse>((m, cb) =>
      client.listDevices({ deviceClass: 'x86-1t' }, m, cb),
    );
    expect(devices.devices).toMatchObject([{ id: agent.identity.deviceId, pendingJobs: 0 }]);
    for (const v of (await call<ListModelVersionsResponse>((m, cb) => client.listModelVersions({}, m, cb)))
      .versions) {
      expect(v.optionsEvaluated).toBe(v.options);
      expect(v.heldOutAccuracy).toBeGreaterThan(0.8);
    }

    // Bounds that need approximation: 60% of what the layers of the unapproximated round take (on top
    // of its fixed latency, which no option removes: under a loaded machine's tail, most of it), 60%
    // of its storage.
    const unbounded = await call<PreviewPlanResponse>((m, cb) => client.previewPlan({ scope }, m, cb));
    expect(unbounded.feasible).toBe(true);
    const original = unbounded.models.map((m) => m.original!);
    const sum = (key: 'latencyMs' | 'storageBytes' | 'memoryBytes') =>
      original.reduce((n, f) => n + Number(f[key]), 0);
    const fixedMs = unbounded.models.reduce((n, m) => n + m.fixed!.latencyMs, 0);
    const bounds = {
      totalLatencyMs: fixedMs + 0.6 * (sum('latencyMs') - fixedMs),
      storageBytes: Math.round(0.6 * sum('storageBytes')),
      memoryBytes: Math.round(1.5 * sum('memoryBytes')),
    };
    await call<SetPolicyResponse>((m, cb) =>
      client.setPolicy({ policy: policy({ models, ...bounds }) }, m, cb),
    );
    const plan: PreviewPlanResponse = await call<PreviewPlanResponse>((m, cb) =>
      client.previewPlan({ scope }, m, cb),
    );
    expect(plan.feasible).toBe(true);
    expect(plan.totals!.latencyMs).toBeLessThanOrEqual(bounds.totalLatencyMs * (1 + 1e-9));
    expect(Number(plan.totals!.storageBytes)).toBeLessThanOrEqual(bounds.storageBytes);
    expect(Number(plan.totals!.memoryBytes)).toBeLessThanOrEqual(bounds.memoryBytes);
    const approximated = plan.models.flatMap((m) => m.layers.filter((l) => l.option !== 'exact'));
    expect(approximated.length).toBeGreaterThan(0);
    for (const l of approximated) expect(l.why).toMatch(/^saves .* for \d+\.\d\d accuracy points$/);
    for (const m of plan.models) {
      const layerSum = m.layers.reduce((n, l) => n + l.latencyMs, 0);
      expect(m.fixed!.latencyMs).toBeGreaterThanOrEqual(0);
      expect(m.predicted!.latencyMs).toBeCloseTo(m.fixed!.latencyMs + layerSum, 6);
      expect(m.predicted!.accuracy).toBeLessThanOrEqual(m.original!.accuracy);
    }

    // A latency margin no plan can give is headroom not to be had: the plan is made for the bounds.
    const withMargin = async (latencyMargin: number | undefined) => {
      await call<SetPolicyResponse>((m, cb) =>
        client.setPolicy({ policy: policy({ models, ...bounds, latencyMargin }) }, m, cb),
      );
      return call<PreviewPlanResponse>((m, cb) => client.previewPlan({ scope }, m, cb));
    };
    const atBounds = await withMargin(1);
    expect(await withMargin(1e-6)).toMatchObject({ feasible: true, totals: atBounds.totals });
    // A policy that sets none gets the default margin: the plan previewed above.
    expect(await withMargin(undefined)).toMatchObject({ feasible: true, totals: plan.totals });

    // Deploy it: artifacts built, their held-out accuracy measured, every device verifies its share.
    const deployed = await call<DeployResponse>((m, cb) => client.deploy({ scope }, m, cb));
    expect(deployed.deployments.map((d) => d.model).sort()).toEqual(['cifar10-quick', 'lenet5']);
    const terminal = ['active', 'failed', 'rolled-back'];
    const status = async () =>
      (await call<GetStatusResponse>((m, cb) => client.getStatus({ scope }, m, cb))).deployments;
    await waitFor(async () => (await status()).every((d) => terminal.includes(d.state)));
    // Each says the options it runs (approximated layers only): the bounds call for some.
    expect((await status()).some((d) => Object.keys(d.ladder[0].options).length > 0)).toBe(true);
    for (const d of await status()) {
      expect(d.planId).toBe(deployed.planId);
      expect(d.ladder.length).toBeGreaterThanOrEqual(1);
      expect(d.ladder[0].factor).toBe(1);
      expect(d.measured!.latencyMs).toBeGreaterThan(0);
      expect(Number(d.measured!.memoryBytes)).toBeGreaterThan(0);
      expect(d.measured!.accuracy).toBeGreaterThan(0.5); // far above chance (0.1)
      // A device keeps what it verified: active with no violation, or a violation named.
      expect(d.violations.length === 0).toBe(d.state === 'active');
    }
    // The device listing carries what each device serves, as it measured it.
    const served = await call<ListDevicesResponse>((m, cb) =>
      client.listDevices({ deviceClass: 'x86-1t' }, m, cb),
    );
    const figures = served.devices[0].models;
    expect(figures.map((f) => f.model).sort()).toEqual(['cifar10-quick', 'lenet5']);
    for (const f of figures) expect(f.latencyMs).toBeGreaterThan(0);
    // No earlier plan was active: nothing to roll back to.
    await expect(call((m, cb) => client.rollback({ scope }, m, cb))).rejects.toThrow(/FAILED_PRECONDITION/);

    // A storage bound below the file overheads cannot be met: named, with the tightest figures.
    await call<SetPolicyResponse>((m, cb) =>
      client.setPolicy({ policy: policy({ models, storageBytes: 1000 }) }, m, cb),
    );
    const infeasible = await call<PreviewPlanResponse>((m, cb) => client.previewPlan({ scope }, m, cb));
    expect(infeasible).toMatchObject({ feasible: false, unreachable: ['storage'], models: [] });
    expect(Number(infeasible.tightest!.storageBytes)).toBeGreaterThan(1000);
    await call<DeletePolicyResponse>((m, cb) => client.deletePolicy({ scope }, m, cb));
    await expect(call<PreviewPlanResponse>((m, cb) => client.previewPlan({ scope }, m, cb))).rejects.toThrow(
      /NOT_FOUND: no policy/,
    );
  }, 600_000);
});
