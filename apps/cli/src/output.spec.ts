import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeletePolicyResponse,
  GetPolicyResponse,
  ListDeviceClassesResponse,
  ListDevicesResponse,
  ListModelVersionsResponse,
  PreviewPlanResponse,
  SetPolicyResponse,
  type UploadHeader,
  UploadModelResponse,
} from '@blinknet/proto/v1/admin';
import { referenceModel } from '@blinknet/zoo';
import { parseCommandLine } from './args';
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
    expect(header).toEqual({ name: 'lenet5', datasetId: 'mnist', sha256: LENET.sha256, bytes: LENET.bytes });
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
];

async function run(
  argv: string,
  planner: Planner,
  stderrIsTTY = false,
): Promise<{ stdout: string; stderr: string }> {
  const line = parseCommandLine(argv.split(' '), { BLINKNET_ADMIN_TOKEN: 't' }, () => '');
  if (line.help !== undefined) throw new Error('help');
  let stdout = '';
  let stderr = '';
  const io: CommandIO = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    stderrIsTTY,
    now: () => NOW,
  };
  await runCommand(line.command, answering(planner), line.options.json, io);
  return { stdout, stderr };
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
});
