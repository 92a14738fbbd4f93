import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeletePolicyResponse,
  DeployResponse,
  type Deployment,
  GetPolicyResponse,
  GetStatusResponse,
  ListDeviceClassesResponse,
  ListDevicesResponse,
  ListModelVersionsResponse,
  PreviewPlanResponse,
  RollbackResponse,
  SetPolicyResponse,
  type UploadHeader,
  UploadModelResponse,
} from '@blinknet/proto/v1/admin';
import { referenceModel } from '@blinknet/zoo';
import { parseCommandLine, WATCH_INTERVAL_MS } from './args';
import { type AdminApi } from './client';
import { type CommandIO, runCommand } from './commands';

// Golden output: every command's human and --json rendering of fixed, realistic responses, compared
// byte for byte with src/__golden__/. After an intended change: UPDATE_GOLDEN=1 npx jest -c jest.config.cjs

const GOLDEN_DIR = join(__dirname, '__golden__');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function expectGolden(name: string, actual: string): void {
  const path = join(GOLDEN_DIR, name);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`no golden file ${path}; write it with UPDATE_GOLDEN=1`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

const LENET = referenceModel('lenet5-mnist');
const CIFAR = referenceModel('cifar10quick-fmnist');
const NOW = Date.UTC(2025, 10, 26, 12, 0, 0);
const MINUTE = 60_000;

const LENET_VERSION = {
  model: 'lenet5',
  sha256: LENET.sha256,
  bytes: LENET.bytes,
  datasetId: 'mnist',
  inputName: 'input',
  inputDims: [1, 1, 32, 32],
  layers: 5,
  options: 31,
  accuracyState: 'pending',
  optionsEvaluated: 0,
  uploadedAtUnixMs: NOW - 3 * MINUTE,
};

const MODELS = ListModelVersionsResponse.fromPartial({
  versions: [
    {
      ...LENET_VERSION,
      accuracyState: 'ready',
      optionsEvaluated: 31,
      calibrationAccuracy: 0.9902,
      heldOutAccuracy: 0.9891,
    },
    {
      model: 'cifar10-quick',
      sha256: CIFAR.sha256,
      bytes: CIFAR.bytes,
      datasetId: 'fashion-mnist',
      inputName: 'input',
      inputDims: [1, 3, 32, 32],
      layers: 5,
      options: 38,
      accuracyState: 'pending',
      optionsEvaluated: 12,
      uploadedAtUnixMs: NOW - 2 * MINUTE,
    },
    {
      model: 'vgg-fmnist',
      sha256: 'b73695859bb65d288c1af2db993d7923ee385a1b9aa38081910c7a904f60bfa2',
      bytes: 3_832_748,
      datasetId: '',
      inputName: 'input',
      inputDims: [1, 1, 32, 32],
      layers: 16,
      options: 118,
      accuracyState: 'failed',
      accuracyDetail: "input 'input' expects 1 x 1 x 32 x 32, the calibration split gives 1 x 3 x 32 x 32",
      uploadedAtUnixMs: NOW - 26 * 60 * MINUTE,
    },
  ],
});

const DEVICES = ListDevicesResponse.fromPartial({
  devices: [
    {
      id: 'dev-7f3a9c21',
      name: 'pi-kitchen',
      deviceClass: 'rpi4',
      arch: 'arm64',
      cpuModel: 'Cortex-A72',
      cpuCores: 4,
      totalMemoryBytes: 3_980_000_000,
      lastSeenUnixMs: NOW - 12_000,
      measurements: 1_284,
      pendingJobs: 0,
      models: [
        { model: 'lenet5', state: 'active', latencyMs: 0.287, memoryBytes: 1_650_000, storageBytes: 194_400 },
        { model: 'cifar10-quick', state: 'verifying', latencyMs: 0, memoryBytes: 0, storageBytes: 0 },
      ],
    },
    {
      id: 'dev-0b41e8d6',
      name: 'pi-garage',
      deviceClass: 'rpi4',
      arch: 'arm64',
      cpuModel: 'Cortex-A72',
      cpuCores: 4,
      totalMemoryBytes: 1_960_000_000,
      lastSeenUnixMs: NOW - 3 * 60 * MINUTE,
      measurements: 0,
      pendingJobs: 2,
    },
    {
      id: 'dev-c2d95a10',
      name: 'nuc-lab',
      deviceClass: 'x86-small',
      arch: 'x64',
      cpuModel: 'Intel(R) Celeron(R) N5105 @ 2.00GHz',
      cpuCores: 4,
      totalMemoryBytes: 8_200_000_000,
      lastSeenUnixMs: 0,
      measurements: 0,
      pendingJobs: 1,
    },
  ],
});

const CLASSES = ListDeviceClassesResponse.fromPartial({
  classes: [
    {
      name: 'rpi4',
      devices: 2,
      profiledModels: ['lenet5@1543470ae019', 'cifar10-quick@ffdf4a2d7568'],
      measurements: 1_284,
      hasPolicy: true,
    },
    { name: 'x86-small', devices: 1, profiledModels: [], measurements: 0, hasPolicy: false },
  ],
});

const CLASS_POLICY = {
  scope: { deviceClass: 'rpi4' },
  models: [{ model: 'lenet5', latencyMs: 8 }, { model: 'cifar10-quick' }],
  totalLatencyMs: 20,
  latencyPercentile: 99,
  memoryBytes: 3_000_000,
  storageBytes: 570_000,
  accuracyFloor: 0.9,
  latencyMargin: 0.9,
};

const SET_POLICY = SetPolicyResponse.fromPartial({ policy: CLASS_POLICY, profileJobs: 2 });

const DEVICE_POLICY = GetPolicyResponse.fromPartial({
  policy: { scope: { deviceId: 'dev-7f3a9c21' }, models: [{ model: 'lenet5' }], memoryBytes: 1_500_000 },
});

const LENET_ORIGINAL = { latencyMs: 0.412, memoryBytes: 1_912_000, storageBytes: 249_309, accuracy: 0.9891 };
const CIFAR_ORIGINAL = { latencyMs: 9.84, memoryBytes: 2_210_000, storageBytes: 584_964, accuracy: 0.9106 };

const FEASIBLE_PLAN = PreviewPlanResponse.fromPartial({
  feasible: true,
  method: 'exact',
  deviceClass: 'rpi4',
  planningMs: 3.27,
  models: [
    {
      model: 'lenet5',
      sha256: LENET.sha256,
      layers: [
        {
          layer: '/features/features.0/Conv',
          option: 'exact',
          latencyMs: 0.061,
          memoryBytes: 24_600,
          storageBytes: 608,
          accuracyLoss: 0,
          why: 'smallest layer: nothing to gain',
        },
        {
          layer: '/features/features.3/Conv',
          option: 'lowrank:r=8',
          latencyMs: 0.052,
          memoryBytes: 11_520,
          storageBytes: 5_312,
          accuracyLoss: 0.08,
          why: 'saves 0.041 ms, 4.0 kB at -0.08 pt',
        },
        {
          layer: '/classifier/classifier.1/Gemm',
          option: 'int8:storage',
          latencyMs: 0.071,
          memoryBytes: 48_480,
          storageBytes: 48_480,
          accuracyLoss: 0.02,
          why: 'saves 144.6 kB of storage at -0.02 pt',
        },
        {
          layer: '/classifier/classifier.3/Gemm',
          option: 'prune:keep=0.5',
          latencyMs: 0.009,
          memoryBytes: 20_496,
          storageBytes: 20_496,
          accuracyLoss: 0.11,
          why: 'saves 0.007 ms, 20.3 kB at -0.11 pt',
        },
        {
          layer: '/classifier/classifier.5/Gemm',
          option: 'exact',
          latencyMs: 0.004,
          memoryBytes: 3_400,
          storageBytes: 3_400,
          accuracyLoss: 0,
          why: 'every option costs more accuracy than it saves',
        },
      ],
      predicted: { latencyMs: 0.301, memoryBytes: 1_704_000, storageBytes: 78_296, accuracy: 0.987 },
      original: LENET_ORIGINAL,
      fixed: { latencyMs: 0.062, memoryBytes: 1_580_000, storageBytes: 1_204, accuracy: 0 },
    },
    {
      model: 'cifar10-quick',
      sha256: CIFAR.sha256,
      layers: [
        {
          layer: '/features/features.0/Conv',
          option: 'exact',
          latencyMs: 3.12,
          memoryBytes: 139_000,
          storageBytes: 9_728,
          accuracyLoss: 0,
          why: 'the first layer is the most sensitive (-1.9 pt at r=8)',
        },
        {
          layer: '/features/features.3/Conv',
          option: 'lowrank-data:r=12',
          latencyMs: 1.96,
          memoryBytes: 52_300,
          storageBytes: 9_344,
          accuracyLoss: 0.41,
          why: 'saves 2.41 ms, 92.3 kB at -0.41 pt',
        },
        {
          layer: '/features/features.6/Conv',
          option: 'int8:compute',
          latencyMs: 1.02,
          memoryBytes: 51_456,
          storageBytes: 51_456,
          accuracyLoss: 0.37,
          why: 'saves 1.18 ms, 153.6 kB at -0.37 pt',
        },
        {
          layer: '/classifier/classifier.1/Gemm',
          option: 'lowrank:r=16',
          latencyMs: 0.031,
          memoryBytes: 17_472,
          storageBytes: 17_472,
          accuracyLoss: 0.06,
          why: 'saves 0.092 ms, 244.3 kB at -0.06 pt',
        },
        {
          layer: '/classifier/classifier.3/Gemm',
          option: 'exact',
          latencyMs: 0.003,
          memoryBytes: 2_600,
          storageBytes: 2_600,
          accuracyLoss: 0,
          why: 'every option costs more accuracy than it saves',
        },
      ],
      predicted: { latencyMs: 6.42, memoryBytes: 1_281_000, storageBytes: 90_600, accuracy: 0.9022 },
      original: CIFAR_ORIGINAL,
      fixed: { latencyMs: 0.071, memoryBytes: 980_000, storageBytes: 1_088, accuracy: 0 },
    },
  ],
  totals: { latencyMs: 6.721, memoryBytes: 2_985_000, storageBytes: 168_896, accuracy: 0.9022 },
});

const INFEASIBLE_PLAN = PreviewPlanResponse.fromPartial({
  feasible: false,
  method: 'exact',
  deviceClass: 'rpi4',
  planningMs: 1.08,
  unreachable: ['total-latency', 'memory'],
  tightest: { latencyMs: 4.38, memoryBytes: 2_410_000, storageBytes: 61_200, accuracy: 0.7204 },
});

const UPLOADED = UploadModelResponse.fromPartial({ version: LENET_VERSION, created: true });

// Deployments of FEASIBLE_PLAN to the two rpi4 devices, and of a device policy to nuc-lab.

const PLAN_ID = 'cmifx2k7a0003qz8l5h1d9e2b';
const EARLIER_PLAN_ID = 'cmifw9q3c0001qz8lb7t4x0ka';
const NUC_PLAN_ID = 'cmifv4d1e0009qz8lq2m6w3rn';
/** Round 2 of rpi4's policy, solved with what round 1 measured folded in. */
const ROUND2_PLAN_ID = 'cmify6n8t000hqz8lx4c2p7vd';
/** The same, recorded when no plan met the bounds any more. */
const INFEASIBLE_PLAN_ID = 'cmifyb3r50011qz8l2w7k9d4h';

/** The sha256 of a built artifact (content made up, the form real). */
function artifactSha(model: string, factor: number): string {
  return createHash('sha256').update(`${model}@${factor}`).digest('hex');
}

function rungs(model: string, bytes: readonly number[]) {
  const factors = [1, 0.85, 0.7];
  const [dense, conv] = model === 'lenet5' ? ['fc1', 'conv2'] : ['ip1', 'conv3'];
  const options = [
    { [dense]: 'lowrank:r=16' },
    { [dense]: 'lowrank:r=8' },
    { [dense]: 'lowrank:r=8', [conv]: 'prune:keep=0.5' },
  ];
  return bytes.map((b, i) => ({
    sha256: artifactSha(model, factors[i]),
    bytes: b,
    factor: factors[i],
    options: options[i],
  }));
}

const LENET_RUNGS = rungs('lenet5', [82_944, 64_310, 47_158]);
const CIFAR_RUNGS = rungs('cifar10-quick', [96_212, 77_904]);
const ladderBytes = (ladder: readonly { bytes: number }[]) => ladder.reduce((n, r) => n + r.bytes, 0);

const KITCHEN = { deviceId: 'dev-7f3a9c21', deviceName: 'pi-kitchen', deviceClass: 'rpi4' };
const GARAGE = { deviceId: 'dev-0b41e8d6', deviceName: 'pi-garage', deviceClass: 'rpi4' };
const LENET_DEPLOYED = {
  model: 'lenet5',
  ladder: LENET_RUNGS,
  predicted: FEASIBLE_PLAN.models[0].predicted,
  heldOut: 0.9864,
};
const CIFAR_DEPLOYED = {
  model: 'cifar10-quick',
  ladder: CIFAR_RUNGS,
  predicted: FEASIBLE_PLAN.models[1].predicted,
  heldOut: 0.9031,
};

/** A deployment just queued: only the planner's held-out accuracy is measured yet. */
function queuedDeployment(
  id: string,
  planId: string,
  device: typeof KITCHEN,
  { heldOut, ...model }: typeof LENET_DEPLOYED,
  updatedAtUnixMs = NOW - 4 * MINUTE,
): Deployment {
  return {
    id,
    planId,
    round: 1,
    ...device,
    ...model,
    state: 'pending',
    detail: '',
    updatedAtUnixMs,
    measured: { latencyMs: 0, memoryBytes: 0, storageBytes: 0, accuracy: heldOut },
    violations: [],
  };
}

/** What the device reported once it verified the deployment. */
function verified(
  d: Deployment,
  state: string,
  latencyMs: number,
  memoryBytes: number,
  violations: string[] = [],
): Deployment {
  return {
    ...d,
    state,
    detail: state,
    updatedAtUnixMs: NOW - MINUTE,
    measured: { ...d.measured!, latencyMs, memoryBytes, storageBytes: ladderBytes(d.ladder) },
    violations,
  };
}

const QUEUED = [
  queuedDeployment('cmifx2kb10005qz8l3n7c0v1d', PLAN_ID, KITCHEN, LENET_DEPLOYED),
  queuedDeployment('cmifx2kb10006qz8l9k2e4h7f', PLAN_ID, KITCHEN, CIFAR_DEPLOYED),
  queuedDeployment('cmifx2kb10007qz8lw5r8t1y3', PLAN_ID, GARAGE, LENET_DEPLOYED),
  queuedDeployment('cmifx2kb10008qz8lp0s6u9b2', PLAN_ID, GARAGE, CIFAR_DEPLOYED),
];

const DEPLOYED = DeployResponse.fromPartial({ planId: PLAN_ID, plan: FEASIBLE_PLAN, deployments: QUEUED });

/** Memory bound of the policy (3 MB) shared by predicted memory: cifar10-quick's part, as its devices verify it. */
const CIFAR_MEMORY_SHARE = Math.floor((3_000_000 * 1_281_000) / 2_985_000);

const NUC_FAILED = {
  ...queuedDeployment(
    'cmifv4d3k000bqz8lm1x7a5gq',
    NUC_PLAN_ID,
    { deviceId: 'dev-c2d95a10', deviceName: 'nuc-lab', deviceClass: 'x86-small' },
    {
      model: 'lenet5',
      ladder: rungs('lenet5-nuc', [84_020, 66_870]),
      predicted: { latencyMs: 0.118, memoryBytes: 1_650_000, storageBytes: 80_112, accuracy: 0.9881 },
      heldOut: 0.9879,
    },
  ),
  state: 'failed',
  detail: `failed: artifact ${artifactSha('lenet5-nuc', 1).slice(0, 12)}: DEADLINE_EXCEEDED: Deadline exceeded`,
  updatedAtUnixMs: NOW - 9 * MINUTE,
};

const STATUS = GetStatusResponse.fromPartial({
  deployments: [
    verified(QUEUED[0], 'active', 0.287, 1_652_000),
    verified(QUEUED[1], 'active', 6.871, 1_247_000),
    verified(QUEUED[2], 'active', 0.334, 1_598_000),
    verified(QUEUED[3], 'rolled-back', 7.102, 1_412_000, [`memory 1412000 > bound ${CIFAR_MEMORY_SHARE}`]),
    NUC_FAILED,
  ],
  loops: [
    // Round 1 measured cifar10-quick over its memory share on pi-garage: with that folded into the
    // cost model, no plan of round 2 meets the memory bound. The devices keep round 1.
    {
      scope: { deviceClass: 'rpi4' },
      state: 'infeasible',
      round: 2,
      planId: INFEASIBLE_PLAN_ID,
      unreachable: ['memory'],
      detail: '',
    },
    // nuc-lab's round 1 failed: round 2 is being built, and round 1 is still the newest plan.
    {
      scope: { deviceId: 'dev-c2d95a10' },
      state: 'deploying',
      round: 1,
      planId: NUC_PLAN_ID,
      unreachable: [],
      detail: '0 of 1 deployments in flight',
    },
  ],
});

/** The plan before FEASIBLE_PLAN, under a looser memory bound: less approximated. */
const LENET_EARLIER = {
  model: 'lenet5',
  ladder: rungs('lenet5-earlier', [131_776, 90_412, 61_930]),
  predicted: { latencyMs: 0.356, memoryBytes: 1_790_000, storageBytes: 127_840, accuracy: 0.9884 },
  heldOut: 0.9879,
};
const CIFAR_EARLIER = {
  model: 'cifar10-quick',
  ladder: rungs('cifar10-quick-earlier', [188_516, 104_220]),
  predicted: { latencyMs: 7.88, memoryBytes: 1_620_000, storageBytes: 182_900, accuracy: 0.9071 },
  heldOut: 0.9063,
};

const ROLLED_BACK = RollbackResponse.fromPartial({
  planId: EARLIER_PLAN_ID,
  deployments: [
    queuedDeployment('cmifz8m2q000dqz8l6d4f2j8k', EARLIER_PLAN_ID, KITCHEN, LENET_EARLIER, NOW),
    queuedDeployment('cmifz8m2q000eqz8lt3g9b5xw', EARLIER_PLAN_ID, KITCHEN, CIFAR_EARLIER, NOW),
    queuedDeployment('cmifz8m2q000fqz8lh8n1z6pc', EARLIER_PLAN_ID, GARAGE, LENET_EARLIER, NOW),
    queuedDeployment('cmifz8m2q000gqz8lc5v0q4ms', EARLIER_PLAN_ID, GARAGE, CIFAR_EARLIER, NOW),
  ],
});

/** Round 2's cifar10-quick: the plan for a cost model that knows round 1 took 131 kB more memory. */
const CIFAR_ROUND2 = {
  model: 'cifar10-quick',
  ladder: rungs('cifar10-quick-round2', [88_460, 71_936]),
  predicted: { latencyMs: 6.95, memoryBytes: 1_148_000, storageBytes: 84_300, accuracy: 0.8987 },
  heldOut: 0.8994,
};

const ROUND2 = [
  {
    ...queuedDeployment('cmify6nb2000jqz8lr8w3m5tz', ROUND2_PLAN_ID, KITCHEN, LENET_DEPLOYED, NOW),
    round: 2,
  },
  { ...queuedDeployment('cmify6nb2000kqz8le6y1h4qs', ROUND2_PLAN_ID, KITCHEN, CIFAR_ROUND2, NOW), round: 2 },
];

/** The loop of rpi4's policy: a state of admin.proto LoopState, and its round. */
function rpi4Loop(state: string, round = 0, planId = '', detail = '') {
  return { scope: { deviceClass: 'rpi4' }, state, round, planId, unreachable: [], detail };
}

/**
 * What `status --class rpi4 --watch` sees of the policy's closed loop and of pi-kitchen's deployments
 * (the class's only device here), poll after poll: waiting, round 1 deployed, one model rolled back,
 * round 2 deployed with what round 1 measured, converged.
 */
const WATCHED: readonly GetStatusResponse[] = [
  { loops: [rpi4Loop('waiting', 0, '', 'for profiles and accuracy models')], deployments: [] },
  {
    loops: [rpi4Loop('deploying', 1, PLAN_ID, '2 of 2 deployments in flight')],
    deployments: [QUEUED[0], QUEUED[1]],
  },
  {
    loops: [rpi4Loop('deploying', 1, PLAN_ID, '2 of 2 deployments in flight')],
    deployments: [{ ...QUEUED[0], state: 'downloading', detail: 'downloading' }, QUEUED[1]],
  },
  {
    // no change: not shown again
    loops: [rpi4Loop('deploying', 1, PLAN_ID, '2 of 2 deployments in flight')],
    deployments: [{ ...QUEUED[0], state: 'downloading', detail: 'downloading' }, QUEUED[1]],
  },
  {
    loops: [rpi4Loop('deploying', 1, PLAN_ID, '1 of 2 deployments in flight')],
    deployments: [
      verified(QUEUED[0], 'active', 0.287, 1_652_000),
      { ...QUEUED[1], state: 'verifying', detail: 'verifying' },
    ],
  },
  {
    // Every deployment has ended, the loop has not: the planner builds round 2.
    loops: [rpi4Loop('deploying', 1, PLAN_ID, '0 of 2 deployments in flight')],
    deployments: [
      verified(QUEUED[0], 'active', 0.287, 1_652_000),
      verified(QUEUED[1], 'rolled-back', 7.102, 1_412_000, [`memory 1412000 > bound ${CIFAR_MEMORY_SHARE}`]),
    ],
  },
  {
    // no change: not shown again
    loops: [rpi4Loop('deploying', 1, PLAN_ID, '0 of 2 deployments in flight')],
    deployments: [
      verified(QUEUED[0], 'active', 0.287, 1_652_000),
      verified(QUEUED[1], 'rolled-back', 7.102, 1_412_000, [`memory 1412000 > bound ${CIFAR_MEMORY_SHARE}`]),
    ],
  },
  {
    loops: [rpi4Loop('deploying', 2, ROUND2_PLAN_ID, '2 of 2 deployments in flight')],
    deployments: ROUND2,
  },
  {
    loops: [rpi4Loop('converged', 2, ROUND2_PLAN_ID)],
    deployments: [
      verified(ROUND2[0], 'active', 0.291, 1_649_000),
      verified(ROUND2[1], 'active', 6.883, 1_176_000),
    ],
  },
].map((response) => GetStatusResponse.fromPartial(response));
/** STATUS once nuc-lab's loop has ended too: after its last round, its deployment failed again. */
const STATUS_ENDED = GetStatusResponse.fromPartial({
  ...STATUS,
  loops: [STATUS.loops[0], { ...STATUS.loops[1], state: 'failed', round: 3, detail: '' }],
});

/** Polls of WATCHED that repeat the one before. */
const WATCHED_REPEATS = 2;

/** The planner's side of one case: the calls it expects, answered with fixed responses. */
type Planner = Partial<AdminApi>;

function answering(planner: Planner): AdminApi {
  const unexpected = (name: string) => () => Promise.reject(new Error(`unexpected call ${name}`));
  return {
    uploadModel: unexpected('uploadModel'),
    listModelVersions: unexpected('listModelVersions'),
    listDeviceClasses: unexpected('listDeviceClasses'),
    listDevices: unexpected('listDevices'),
    setPolicy: unexpected('setPolicy'),
    getPolicy: unexpected('getPolicy'),
    deletePolicy: unexpected('deletePolicy'),
    previewPlan: unexpected('previewPlan'),
    deploy: unexpected('deploy'),
    getStatus: unexpected('getStatus'),
    rollback: unexpected('rollback'),
    ...planner,
  };
}

/** Receives an upload as the planner would, checking the header against the bytes that follow. */
function receiving(response: UploadModelResponse): AdminApi['uploadModel'] {
  return async (
    header: UploadHeader,
    chunks: AsyncIterable<Uint8Array>,
    onSent?: (bytes: number) => void,
  ) => {
    let bytes = 0;
    for await (const chunk of chunks) {
      bytes += chunk.length;
      onSent?.(bytes);
    }
    expect(header).toEqual({
      name: 'lenet5',
      datasetId: 'mnist',
      sha256: LENET.sha256,
      bytes: LENET.bytes,
      inputsBytes: 0,
    });
    expect(bytes).toBe(LENET.bytes);
    return response;
  };
}

const CASES: readonly (readonly [name: string, argv: string, planner: Planner])[] = [
  [
    'models-upload',
    `models upload ${LENET.path} --name lenet5 --dataset mnist`,
    { uploadModel: receiving(UPLOADED) },
  ],
  [
    'models-upload-again',
    `models upload ${LENET.path} --name lenet5 --dataset mnist`,
    {
      uploadModel: receiving(
        UploadModelResponse.fromPartial({ version: MODELS.versions[0], created: false }),
      ),
    },
  ],
  ['models-ls', 'models ls', { listModelVersions: async () => MODELS }],
  ['models-ls-empty', 'models ls', { listModelVersions: async () => ({ versions: [] }) }],
  ['devices-ls', 'devices ls', { listDevices: async () => DEVICES }],
  ['devices-ls-class-empty', 'devices ls --class jetson', { listDevices: async () => ({ devices: [] }) }],
  ['classes-ls', 'classes ls', { listDeviceClasses: async () => CLASSES }],
  ['classes-ls-empty', 'classes ls', { listDeviceClasses: async () => ({ classes: [] }) }],
  [
    'policy-set',
    'policy set --class rpi4 --model lenet5 --model cifar10-quick --model-latency-ms lenet5=8 --latency-ms 20 ' +
      '--percentile 99 --memory-mb 3 --storage-mb 0.57 --accuracy-floor 0.9 --margin 0.9',
    {
      setPolicy: async (policy) => {
        expect(policy).toEqual({ ...CLASS_POLICY, models: SET_POLICY.policy!.models });
        return SET_POLICY;
      },
    },
  ],
  ['policy-get', 'policy get --device dev-7f3a9c21', { getPolicy: async () => DEVICE_POLICY }],
  ['policy-rm', 'policy rm --class rpi4', { deletePolicy: async () => DeletePolicyResponse.fromPartial({}) }],
  ['plan-preview', 'plan preview --class rpi4', { previewPlan: async () => FEASIBLE_PLAN }],
  ['plan-preview-infeasible', 'plan preview --class rpi4', { previewPlan: async () => INFEASIBLE_PLAN }],
  [
    'deploy',
    'deploy --class rpi4',
    {
      deploy: async (scope) => {
        expect(scope).toEqual({ deviceClass: 'rpi4' });
        return DEPLOYED;
      },
    },
  ],
  [
    'status',
    'status',
    {
      getStatus: async (scope) => {
        expect(scope).toBeUndefined();
        return STATUS;
      },
    },
  ],
  ['status-empty', 'status', { getStatus: async () => ({ deployments: [], loops: [] }) }],
  [
    'status-device-empty',
    'status --device dev-c2d95a10',
    {
      getStatus: async (scope) => {
        expect(scope).toEqual({ deviceId: 'dev-c2d95a10' });
        return GetStatusResponse.fromPartial({
          loops: [
            {
              scope: { deviceId: 'dev-c2d95a10' },
              state: 'waiting',
              detail: 'for profiles and accuracy models',
            },
          ],
        });
      },
    },
  ],
  [
    'rollback',
    'rollback --class rpi4',
    {
      rollback: async (scope) => {
        expect(scope).toEqual({ deviceClass: 'rpi4' });
        return ROLLED_BACK;
      },
    },
  ],
];

/** Runs a command on a clock that starts at NOW and moves only while the command sleeps. */
async function run(
  argv: string,
  planner: Planner,
  stderrIsTTY = false,
): Promise<{ stdout: string; stderr: string; slept: number[] }> {
  const line = parseCommandLine(argv.split(' '), { BLINKNET_ADMIN_TOKEN: 't' }, () => '');
  if (line.help !== undefined) throw new Error('help');
  let stdout = '';
  let stderr = '';
  let clock = NOW;
  const slept: number[] = [];
  const io: CommandIO = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    stderrIsTTY,
    now: () => clock,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
  };
  await runCommand(line.command, answering(planner), line.options.json, io);
  return { stdout, stderr, slept };
}

/** Answers getStatus with WATCHED, one poll after another, then the last one again. */
function watched(): Planner {
  let poll = 0;
  return {
    getStatus: async (scope) => {
      expect(scope).toEqual({ deviceClass: 'rpi4' });
      return WATCHED[Math.min(poll++, WATCHED.length - 1)];
    },
  };
}

describe('output of every command (golden files in src/__golden__)', () => {
  it.each(CASES)('%s', async (name, argv, planner) => {
    const human = await run(argv, planner);
    expectGolden(`${name}.txt`, human.stdout);
    expect(human.stderr).toBe(''); // no progress without a terminal
    const json = await run(`${argv} --json`, planner);
    expectGolden(`${name}.json.txt`, json.stdout);
  });

  it('--json prints the response object itself, 64-bit integers as numbers', async () => {
    const { stdout } = await run('models ls --json', { listModelVersions: async () => MODELS });
    expect(JSON.parse(stdout)).toEqual(MODELS);
    expect(JSON.parse(stdout).versions[0].bytes).toBe(LENET.bytes);
  });

  it('draws upload progress on a terminal only, and ends its line', async () => {
    const { stderr } = await run(`models upload ${LENET.path} --name lenet5 --dataset mnist`, {
      uploadModel: receiving(UPLOADED),
    });
    expect(stderr).toBe('');
    const tty = await run(
      `models upload ${LENET.path} --name lenet5 --dataset mnist`,
      { uploadModel: receiving(UPLOADED) },
      true,
    );
    expect(tty.stderr).toBe('\r\x1b[Kuploading lenet5-mnist.onnx: 100% (249.3 kB of 249.3 kB)\n');
  });

  it('status --watch polls every 2 s, shows each change of state, and stops once every loop and deployment has ended', async () => {
    const human = await run('status --class rpi4 --watch', watched());
    expectGolden('status-watch.txt', human.stdout);
    expect(human.slept).toEqual(Array(WATCHED.length - 1).fill(WATCH_INTERVAL_MS));
    // The repeated polls are not shown.
    expect(human.stdout.match(/^at /gm)).toHaveLength(WATCHED.length - WATCHED_REPEATS);
    // A waiting loop with no deployments, and a loop deploying round 2 after every deployment of round
    // 1 has ended, are not the end.
    expect(human.stdout).toContain('policy of class rpi4: waiting for profiles and accuracy models\n');
    expect(human.stdout).toContain(
      'policy of class rpi4: deploying round 1 (0 of 2 deployments in flight)\n',
    );
    expect(human.stdout).toMatch(
      new RegExp(
        `policy of class rpi4: converged in round 2 \\(plan ${ROUND2_PLAN_ID}\\)\n\n2 deployments: 2 active\n[^]*$`,
      ),
    );

    // --json: the last answer only, once everything has ended.
    const json = await run('status --class rpi4 --watch --json', watched());
    expect(json.slept).toHaveLength(WATCHED.length - 1);
    expect(JSON.parse(json.stdout)).toEqual(WATCHED[WATCHED.length - 1]);

    // Nothing to wait for: one answer, no sleep.
    const empty = await run('status --watch', { getStatus: async () => ({ deployments: [], loops: [] }) });
    expect(empty).toEqual({
      stdout: "at 2025-11-26 12:00:00Z\nno deployments yet: 'blinknet deploy (--class C | --device ID)'\n",
      stderr: '',
      slept: [],
    });

    // Every loop has ended (infeasible: the planner deploys nothing more), every deployment too.
    const ended = await run('status --watch', { getStatus: async () => STATUS_ENDED });
    expect(ended.slept).toEqual([]);
    expect(ended.stdout).toMatch(
      /^at 2025-11-26 12:00:00Z\npolicy of class rpi4: infeasible: out of reach: memory\n/,
    );
  });

  it('shows where the loop of every policy stands, before the deployments', async () => {
    const loop = (state: string, rest: object = {}) => ({ scope: { deviceClass: 'rpi4' }, state, ...rest });
    const { stdout } = await run('status', {
      getStatus: async () =>
        GetStatusResponse.fromPartial({
          loops: [
            loop('waiting', { detail: 'for profiles and accuracy models' }),
            {
              ...loop('deploying', { round: 1, planId: PLAN_ID, detail: '1 of 2 deployments in flight' }),
              scope: { deviceId: 'dev-1' },
            },
            loop('converged', { round: 2, planId: ROUND2_PLAN_ID }),
            loop('failed', { round: 3, planId: ROUND2_PLAN_ID }),
            loop('infeasible', {
              round: 1,
              planId: INFEASIBLE_PLAN_ID,
              unreachable: ['total-latency', 'memory'],
            }),
            loop('infeasible', { round: 2, detail: 'accuracy below the floor' }),
            loop('paused', { round: 4, planId: PLAN_ID, detail: 'newer planner' }),
          ],
          deployments: [QUEUED[0]],
        }),
    });
    expect(stdout.split('\n').slice(0, 9)).toEqual([
      'policy of class rpi4: waiting for profiles and accuracy models',
      'policy of device dev-1: deploying round 1 (1 of 2 deployments in flight)',
      `policy of class rpi4: converged in round 2 (plan ${ROUND2_PLAN_ID})`,
      `policy of class rpi4: failed: bounds not met after round 3 (plan ${ROUND2_PLAN_ID})`,
      'policy of class rpi4: infeasible: out of reach: total-latency, memory',
      'policy of class rpi4: infeasible: out of reach: - (accuracy below the floor)',
      `policy of class rpi4: paused in round 4 (plan ${PLAN_ID}; newer planner)`,
      '',
      '1 deployment: 1 pending',
    ]);
  });

  it('shows a figure not known yet as -, predicted or measured', async () => {
    const { stdout } = await run('status', {
      getStatus: async () =>
        GetStatusResponse.fromPartial({
          deployments: [
            { ...QUEUED[0], predicted: undefined, measured: undefined },
            { ...QUEUED[1], predicted: undefined },
          ],
        }),
    });
    const [, first, second] = stdout.split('\n').slice(1);
    expect(first.split(/ {2,}/).slice(5, 10)).toEqual(['- / -', '- / -', '- / -', '- / -', '3']);
    expect(second.split(/ {2,}/).slice(5, 10)).toEqual(['- / -', '- / -', '- / -', '- / 90.31%', '2']);
  });
});
