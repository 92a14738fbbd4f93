/**
 * `npm run demo`: BlinkNet's closed loop on this machine, with real daemons. Starts the planner
 * (SQLite under a temporary directory) and two agents of two device classes whose latencies really
 * differ (1 vs 2 onnxruntime threads), uploads the trained reference models, and lets the loop
 * profile, plan, deploy and verify:
 * 1. every model unapproximated first, to measure its real p95, memory and storage on its device;
 * 2. then the policies that need approximation: CIFAR-10-quick + LeNet-5 together on class A under a
 *    round latency bound of 90% of what they measured; VGG-style alone on class B under memory (half
 *    its weights less) and storage (50%) bounds that approximation must meet within 1.5x its latency
 *    (on 2 threads the factorised and pruned layers that free its memory run slower inside the whole
 *    model than alone: a tighter bound there measured out of reach of any plan, whatever its cost
 *    model predicted); every model keeps >= 85%
 *    accuracy (the policies' floor; it is what keeps the latency bounds from going lower: these
 *    sub-millisecond models spend much of a run in per-run overhead no approximation removes, and
 *    their p95 carries 0.02-0.06 ms of periodic machine noise, about one run in 25-30 here;
 *    at the floor, the options measured end to end save 10-25% of CIFAR-10-quick's median and about
 *    10% of LeNet-5's); on the way, a memory bound under onnxruntime's per-session floor, which the
 *    planner reports infeasible instead of trying.
 * Ends with a table of what was measured on the devices, and stops every process it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '@blinknet/core';
import { AdminClient } from '@blinknet/cli';
import {
  classScope,
  type Daemon,
  LOOP_ENDED,
  type LogLine,
  setPolicy,
  startAgent,
  startPlanner,
  uploadModel,
} from '@blinknet/e2e';
import { DEFAULT_LATENCY_MARGIN } from '@blinknet/planner';
import { type Deployment, type GetStatusResponse } from '@blinknet/proto/v1/admin';
import { DatasetError, loadDataset, readReferenceModel, referenceModel } from '@blinknet/zoo';

const TOKEN = 'demo-admin-token';
const SECRET = 'demo-enrollment-secret';
/** No plan may predict less accuracy than this for any model: a bound is not worth any loss. */
const ACCURACY_FLOOR = 0.85;
const CLASS_A = 'x86-1thread';
const CLASS_B = 'x86-2threads';
const MODELS = [
  { name: 'cifar10-quick', ref: 'cifar10quick-fmnist', dataset: 'fashion-mnist', cls: CLASS_A },
  { name: 'lenet5', ref: 'lenet5-mnist', dataset: 'mnist', cls: CLASS_A },
  { name: 'vgg-style', ref: 'vgg-fmnist', dataset: 'fashion-mnist', cls: CLASS_B },
] as const;

const daemons: Daemon[] = [];
const stopAll = () => Promise.all(daemons.map((d) => d.stop()));
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s`;
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);
/** BLINKNET_DEMO_LOG=<regex>: echo the daemons' log lines whose message matches. */
const onLog = (line: LogLine) => {
  if (process.env.BLINKNET_DEMO_LOG && String(line.msg).match(process.env.BLINKNET_DEMO_LOG))
    console.log(JSON.stringify(line).slice(0, 400));
};

let client: AdminClient;
const status = (cls: string) => client.getStatus(classScope(cls));

/** Waits until the loop of each class's policy has ended, printing its progress. */
async function loopsEnd(classes: readonly string[]): Promise<Map<string, GetStatusResponse>> {
  const last = new Map<string, string>();
  for (;;) {
    const now = new Map(await Promise.all(classes.map(async (c) => [c, await status(c)] as const)));
    for (const [cls, s] of now) {
      const loop = s.loops[0];
      const line = `${loop.state}${loop.round ? ` (round ${loop.round})` : ''}${loop.detail ? `: ${loop.detail}` : ''}`;
      if (last.get(cls) !== line) say(`class ${cls}: ${line}`);
      last.set(cls, line);
    }
    if ([...now.values()].every((s) => LOOP_ENDED.includes(s.loops[0].state))) return now;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const ms = (v: number | undefined) => (v ? `${v.toFixed(3)} ms` : '-');
const mb = (v: number | undefined) => (v ? formatBytes(v) : '-');
const pct = (v: number | undefined) => (v ? `${(100 * v).toFixed(2)}%` : '-');
const yes = (ok: boolean) => (ok ? 'yes' : 'NO');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n');
}

async function main(): Promise<void> {
  // The planner scores accuracy on the real test splits: say what is missing before starting anything.
  for (const dataset of new Set(MODELS.map((m) => m.dataset))) loadDataset(dataset, 'test');
  const dir = mkdtempSync(join(tmpdir(), 'blinknet-demo-'));
  try {
    say(`planner and agents under ${dir}`);
    const planner = await startPlanner({
      port: 0,
      dataDir: join(dir, 'planner'),
      adminToken: TOKEN,
      enrollmentSecret: SECRET,
      calibrationImages: 200,
      onLog,
    });
    daemons.push(planner);
    const address = `127.0.0.1:${planner.ready.port as number}`;
    say(`planner listening on ${address}`);
    client = new AdminClient(address, TOKEN, 600_000);
    for (const [cls, threads] of [
      [CLASS_A, 1],
      [CLASS_B, 2],
    ] as const) {
      daemons.push(
        await startAgent({
          planner: address,
          deviceClass: cls,
          name: `${cls}-box`,
          threads,
          dataDir: join(dir, cls),
          enrollmentSecret: SECRET,
          onLog,
        }),
      );
      say(`agent of class ${cls} (${threads} onnxruntime thread${threads > 1 ? 's' : ''}) enrolled`);
    }

    for (const m of MODELS) {
      const bytes = readReferenceModel(referenceModel(m.ref));
      const response = await uploadModel(client, m.name, m.dataset, bytes);
      say(`uploaded ${m.name} (${formatBytes(bytes.length)}, ${response.version!.options} layer options)`);
    }

    // The planner scores every layer option's accuracy after an upload; on this machine that work
    // shares the emulated devices' two cores, so profiling waits for it (on a fleet it would not).
    for (let said = 0; ; await new Promise((r) => setTimeout(r, 1000))) {
      const { versions } = await client.listModelVersions();
      const ready = versions.every((v) => v.accuracyState === 'ready');
      if (ready || Date.now() - said > 5000) {
        say(
          `accuracy models: ${versions.map((v) => `${v.model} ${v.optionsEvaluated}/${v.options}`).join(', ')}`,
        );
        said = Date.now();
      }
      const failed = versions.find((v) => v.accuracyState === 'failed');
      if (failed) throw new Error(`the accuracy model of ${failed.model} failed: ${failed.accuracyDetail}`);
      if (ready) break;
    }

    // Step 1: unapproximated, to measure where each model stands on its device.
    say('step 1: every model as uploaded (no bound binds), measured on its device');
    // One class at a time here too: each class's profiles are its cost model, and two agents
    // profiling at once on two shared cores would each measure the other's load.
    await setPolicy(client, CLASS_A, {
      models: [{ model: 'cifar10-quick' }, { model: 'lenet5' }],
      storageBytes: 1e12,
    });
    const original = await loopsEnd([CLASS_A]);
    await setPolicy(client, CLASS_B, { models: [{ model: 'vgg-style' }], storageBytes: 1e12 });
    original.set(CLASS_B, (await loopsEnd([CLASS_B])).get(CLASS_B)!);
    const base = (cls: string, model: string) =>
      original.get(cls)!.deployments.find((d) => d.model === model)!;
    const versions = await client.listModelVersions();

    // A memory bound under the per-session floor: reported infeasible, never attempted.
    const vgg = base(CLASS_B, 'vgg-style');
    await setPolicy(client, CLASS_B, { models: [{ model: 'vgg-style' }], memoryBytes: 5e6 });
    const under = (await loopsEnd([CLASS_B])).get(CLASS_B)!.loops[0];
    say(`class ${CLASS_B}, memory <= 5 MB: ${under.state} (out of reach: ${under.unreachable.join(', ')})`);

    // Step 2: bounds that need approximation.
    const a = ['cifar10-quick', 'lenet5'].map((m) => base(CLASS_A, m));
    const sum = (ds: Deployment[], f: (d: Deployment) => number) => ds.reduce((n, d) => n + f(d), 0);
    // From what the devices measured. Resident memory moves by a megabyte or two between two
    // measurements of the same model (allocator and thread pools), more than the weights of
    // CIFAR-10-quick and LeNet-5 together: their memory bound has that much room and does not bind;
    // VGG-style's (3.8 MB of weights) binds, and so does its storage; its latency bound is a service
    // level the approximations that free memory must keep, with room for the spread of a p95 at 2
    // threads on two shared cores (the original's, in eleven runs of this demo: 0.136-0.206 ms; its
    // plans measured 0.13-0.38 ms, and a bound at 1.25x the original was missed in 3 runs of 5).
    const bounds: Record<string, { totalLatencyMs: number; memoryBytes: number; storageBytes?: number }> = {
      [CLASS_A]: {
        totalLatencyMs: 0.9 * sum(a, (d) => d.measured!.latencyMs),
        memoryBytes: Math.round(sum(a, (d) => Number(d.measured!.memoryBytes)) + 4e6),
      },
      [CLASS_B]: {
        totalLatencyMs: 1.5 * vgg.measured!.latencyMs,
        // The original's resident memory reads one of two levels 2.3 MB apart (glibc's dynamic mmap
        // threshold), and the planner, which never credits a plan that took less than predicted,
        // keeps the higher: the bound starts from the larger of what it measured and predicted.
        memoryBytes: Math.round(
          Math.max(Number(vgg.measured!.memoryBytes), Number(vgg.predicted!.memoryBytes)) -
            0.5 * Number(vgg.ladder[0].bytes),
        ),
        storageBytes: Math.round(0.5 * Number(vgg.ladder[0].bytes)),
      },
    };

    say(
      `step 2: class ${CLASS_A}: cifar10-quick + lenet5, round p95 <= ${ms(bounds[CLASS_A].totalLatencyMs)}, ` +
        `memory <= ${mb(bounds[CLASS_A].memoryBytes)}, accuracy >= ${pct(ACCURACY_FLOOR)}; class ${CLASS_B}: vgg-style, p95 <= ` +
        `${ms(bounds[CLASS_B].totalLatencyMs)}, memory <= ${mb(bounds[CLASS_B].memoryBytes)}, storage <= ` +
        `${mb(bounds[CLASS_B].storageBytes)}; plans aim at ${DEFAULT_LATENCY_MARGIN}x each latency bound (the policies' default margin)`,
    );
    await setPolicy(client, CLASS_A, {
      models: [{ model: 'cifar10-quick' }, { model: 'lenet5' }],
      ...bounds[CLASS_A],
      accuracyFloor: ACCURACY_FLOOR,
    });
    // One class at a time: on two shared cores, one class's artifact builds and verification runs
    // would slow the other's measurements.
    const final = await loopsEnd([CLASS_A]);
    await setPolicy(client, CLASS_B, {
      models: [{ model: 'vgg-style' }],
      ...bounds[CLASS_B],
      accuracyFloor: ACCURACY_FLOOR,
    });
    final.set(CLASS_B, (await loopsEnd([CLASS_B])).get(CLASS_B)!);

    const rows = [
      [
        'DEVICE',
        'MODEL',
        'P95 ORIGINAL',
        'P95 PREDICTED',
        'P95 DEPLOYED',
        'MEMORY',
        'STORAGE',
        'ACCURACY (ORIG -> NOW)',
        'STATE',
        'ROUNDS',
      ],
    ];
    const verdicts: string[] = [];
    for (const cls of [CLASS_A, CLASS_B]) {
      const s = final.get(cls)!;
      const loop = s.loops[0];
      const deployments = s.deployments;
      for (const d of deployments) {
        const heldOut = versions.versions.find((v) => v.model === d.model)?.heldOutAccuracy;
        rows.push([
          d.deviceName,
          d.model,
          ms(base(cls, d.model).measured!.latencyMs),
          ms(d.predicted?.latencyMs),
          ms(d.measured!.latencyMs),
          mb(Number(d.measured!.memoryBytes)),
          mb(Number(d.measured!.storageBytes)),
          `${pct(heldOut)} -> ${pct(d.measured!.accuracy)}`,
          d.state,
          String(loop.round),
        ]);
      }
      const b = bounds[cls];
      if (loop.state === 'infeasible') {
        verdicts.push(
          `class ${cls}: no plan meets these bounds on its cost model (out of reach: ${loop.unreachable.join(', ')}); ` +
            'its devices keep their last version',
        );
        continue;
      }
      const latency = sum(deployments, (d) => d.measured!.latencyMs);
      const memory = sum(deployments, (d) => Number(d.measured!.memoryBytes));
      const storage = sum(deployments, (d) => Number(d.measured!.storageBytes));
      verdicts.push(
        `class ${cls}: loop ${loop.state} after ${loop.round} round(s); measured on the device: latency ` +
          `${ms(latency)} <= ${ms(b.totalLatencyMs)} ${yes(latency <= b.totalLatencyMs)}, memory ${mb(memory)} <= ` +
          `${mb(b.memoryBytes)} ${yes(memory <= b.memoryBytes)}` +
          (b.storageBytes
            ? `, storage ${mb(storage)} <= ${mb(b.storageBytes)} ${yes(storage <= b.storageBytes)}`
            : ''),
      );
    }
    console.log(`\n${table(rows)}\n`);
    for (const v of verdicts) console.log(v);
    console.log(
      '\nlatency: p95 over 200 runs on the device (models of a class run one after another: their sum is the' +
        ' round); memory: resident bytes a model adds; storage: its ladder on the device; accuracy: held-out' +
        ' split. A rolled-back model serves its previous version again.',
    );
    say('done');
  } finally {
    client?.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void stopAll().then(() => process.exit(130)));
}
main().catch(async (error: unknown) => {
  console.error(error instanceof DatasetError ? `demo: ${error.message}` : error);
  await stopAll();
  process.exit(1);
});
