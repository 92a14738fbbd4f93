import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Agent } from '@blinknet/agent';
import { encodeModel } from '@blinknet/onnx';
import {
  AgentServiceClient,
  AgentServiceService,
  MeasurementKind,
  WatchJobsResponse,
} from '@blinknet/proto/v1/agent';
import {
  classMeasurements,
  enqueueJob,
  type OpenedDatabase,
  openDatabase,
  saveModelVersion,
} from '@blinknet/store';
import { buildNetwork } from '@blinknet/zoo';
import { AgentServiceImpl } from './agent-service';

const SECRET = 'fleet-secret';
let dir: string;
let db: OpenedDatabase;
let server: Server;
let service: AgentServiceImpl;
let address: string;
const agents: Agent[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blinknet-planner-'));
  db = await openDatabase(join(dir, 'planner.db'));
  service = new AgentServiceImpl({ db, dataDir: dir, enrollmentSecret: SECRET });
  server = new Server();
  server.addService(AgentServiceService, service.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  address = `127.0.0.1:${port}`;
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  server.forceShutdown();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startAgent(): Promise<Agent> {
  const agent = await Agent.start(
    {
      planner: address,
      deviceClass: 'x86-2core',
      dataDir: join(dir, 'agent'),
      name: 'box-1',
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

describe('AgentService with a real agent', () => {
  it('enrols the agent, hands it a profiling job, serves the model and stores every figure once', async () => {
    const model = buildNetwork('cifar10-quick');
    const bytes = encodeModel(model);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'models', `${sha256}.onnx`), bytes);
    const layers = model.graph!.node.filter((n) => ['Conv', 'Gemm'].includes(n.opType)).map((n) => n.name);
    const options = ['exact', 'int8:compute'];
    await saveModelVersion(db.prisma, {
      name: 'cifar10-quick',
      sha256,
      bytes: bytes.length,
      storagePath: `models/${sha256}.onnx`,
      inputName: 'data',
      inputDims: [1, 3, 32, 32],
      activationPeakBytes: 0,
      otherWeightBytes: 0,
      options: layers.flatMap((layer) =>
        options.map((option) => ({ layer, option, weightBytes: 1, flops: 1 })),
      ),
    });

    const agent = await startAgent();
    const device = await db.prisma.device.findFirstOrThrow({ include: { deviceClass: true } });
    expect(device).toMatchObject({
      id: agent.identity.deviceId,
      name: 'box-1',
      deviceClass: { name: 'x86-2core' },
    });
    expect(JSON.parse(device.factsJson).cpuCores).toBeGreaterThan(0);
    expect(device.tokenSha256).toBe(createHash('sha256').update(agent.identity.token).digest('hex'));

    const job = {
      jobId: 'job-1',
      profile: {
        model: { sha256, bytes: bytes.length },
        layers: layers.map((layer) => ({ layer, options })),
        batchSize: 1,
        timedRuns: 0,
      },
      deploy: undefined,
    };
    await enqueueJob(db.prisma, {
      id: job.jobId,
      deviceId: device.id,
      kind: 'profile',
      payload: WatchJobsResponse.encode(job).finish(),
    });
    service.notify(device.id, job);

    await waitFor(
      async () => (await db.prisma.job.findUniqueOrThrow({ where: { id: 'job-1' } })).state === 'done',
    );
    const figures = await db.prisma.measurement.findMany({
      where: { jobId: 'job-1' },
      include: { layerOption: true },
    });
    expect(figures.filter((m) => m.kind === 'layer-latency')).toHaveLength(layers.length * options.length);
    expect(figures.filter((m) => m.kind === 'model-latency')).toHaveLength(1);
    const memory = figures.find((m) => m.kind === 'model-memory')!;
    expect(Number(memory.artifactBytes)).toBe(bytes.length);
    for (const m of figures) {
      expect(m.deviceClassId).toBe(device.deviceClassId);
      expect(JSON.parse(m.contextJson)).toMatchObject({ intraOpThreads: 1, executionProvider: 'cpu' });
    }
    expect(new Set(figures.filter((m) => m.layerOption).map((m) => m.layerOption!.option))).toEqual(
      new Set(options),
    );
    // The empty run the profile timed reaches the cost model with the end-to-end figure.
    const version = await db.prisma.modelVersion.findFirstOrThrow();
    const [e2e] = (await classMeasurements(db.prisma, device.deviceClassId, version.id)).filter(
      (m) => m.kind === 'model-latency',
    );
    expect(e2e).toMatchObject({ runOverheadMs: expect.any(Number) as number });
    expect(e2e.kind === 'model-latency' && e2e.runOverheadMs! > 0).toBe(true);

    // A figure for an option outside the ladder is rejected for good: the agent sets it aside.
    agent.report([
      {
        jobId: '',
        modelSha256: sha256,
        kind: MeasurementKind.MEASUREMENT_KIND_LAYER_LATENCY,
        layer: layers[0],
        option: 'prune:keep=0.1',
        latency: { medianMs: 1, p95Ms: 1, p99Ms: 1, meanMs: 1, cv: 0, runs: 1 },
        memory: undefined,
        context: undefined,
        measuredAtUnixMs: Date.now(),
        nodeTimings: [],
      },
    ]);
    const rejected = join(dir, 'agent', 'spool', 'rejected');
    const reasons = () =>
      existsSync(rejected) ? readdirSync(rejected).filter((f) => f.endsWith('.reason.txt')) : [];
    await waitFor(async () => reasons().length === 1);
    expect(readFileSync(join(rejected, reasons()[0]), 'utf8')).toMatch(/no option 'prune:keep=0.1'/);
    expect(await db.prisma.measurement.count({ where: { jobId: '' } })).toBe(0);
  }, 120_000);

  it('refuses a wrong secret and a wrong token, writing nothing', async () => {
    const client = new AgentServiceClient(address, credentials.createInsecure());
    const register = (secret: string) =>
      new Promise((resolve, reject) =>
        client.register(
          { enrollmentSecret: secret, deviceClass: 'c', name: 'n', facts: undefined },
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      );
    await expect(register('wrong')).rejects.toThrow(/PERMISSION_DENIED/);
    const metadata = new Metadata();
    metadata.set('authorization', 'Bearer not-a-token');
    const report = new Promise((resolve, reject) => {
      const call = client.report(metadata, (e, r) => (e ? reject(e) : resolve(r)));
      call.write({ batchId: 'b', measurements: [], events: [] });
      call.end();
    });
    await expect(report).rejects.toThrow(/UNAUTHENTICATED/);
    expect(await db.prisma.device.count()).toBe(0);
    expect(await db.prisma.reportBatch.count()).toBe(0);
    client.close();
  });
});
