import { BYTES_PER_MB, formatBytes, formatCount } from '@blinknet/core';
import {
  type ListDeviceClassesResponse,
  type ListDevicesResponse,
  type ListModelVersionsResponse,
  type ModelPlan,
  type ModelVersion,
  type PlanFigures,
  type Policy,
  type PolicyScope,
  type PreviewPlanResponse,
  type SetPolicyResponse,
  type UploadModelResponse,
} from '@blinknet/proto/v1/admin';

// Pure rendering of AdminService responses for people (aligned plain tables) and for programs (JSON).

/** Shown in place of a value that is absent. */
const NONE = '-';
/** Hex digits of a sha256 that identify a model version to a person. */
const SHA_PREFIX = 12;

export interface Column {
  readonly header: string;
  /** Numbers are right-aligned. @default 'left' */
  readonly align?: 'left' | 'right';
}

/** Rows padded column by column to their widest cell, two spaces apart, with no trailing blanks. */
function alignRows(rows: readonly (readonly string[])[], align: readonly Column['align'][]): string {
  const widths = align.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (align[i] === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A plain table: a header line, then one line per row. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  return alignRows(
    [columns.map((column) => column.header), ...rows],
    columns.map((column) => column.align),
  );
}

/** --json: the response object itself (64-bit integers are numbers already: ts-proto forceLong=number). */
export function renderJson(response: object): string {
  return `${JSON.stringify(response, null, 2)}\n`;
}

export function formatMs(ms: number): string {
  return `${ms.toFixed(ms >= 100 ? 1 : ms >= 10 ? 2 : 3)} ms`;
}

/** A fraction (0..1) as a percentage: 0.9891 -> 98.91%. */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

/** A bound as given at the CLI edge, and exactly: 3 MB (3,000,000 bytes). */
export function formatMegabytes(bytes: number): string {
  return `${bytes / BYTES_PER_MB} MB (${formatCount(bytes)} bytes)`;
}

/** Minutes in UTC, so that output does not depend on where it is read. */
export function formatTime(unixMs: number): string {
  return unixMs > 0 ? `${new Date(unixMs).toISOString().slice(0, 16).replace('T', ' ')}Z` : NONE;
}

export function formatAgo(unixMs: number, nowMs: number): string {
  if (unixMs <= 0) return 'never';
  const s = Math.max(0, Math.round((nowMs - unixMs) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 120 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function formatScope(scope: PolicyScope | undefined): string {
  if (scope?.deviceClass !== undefined) return `class ${scope.deviceClass}`;
  if (scope?.deviceId !== undefined) return `device ${scope.deviceId}`;
  return '(no scope)';
}

function shortSha(sha256: string): string {
  return sha256.slice(0, SHA_PREFIX);
}

/** pending with progress, ready with the original model's held-out accuracy, or failed. */
function accuracyCell(version: ModelVersion): string {
  switch (version.accuracyState) {
    case 'ready':
      return `ready ${formatPercent(version.heldOutAccuracy)}`;
    case 'pending':
      return `pending ${version.optionsEvaluated}/${version.options}`;
    default:
      return version.accuracyState || NONE;
  }
}

function datasetCell(datasetId: string): string {
  return datasetId || 'random inputs';
}

export function renderUpload(response: UploadModelResponse): string {
  const v = response.version;
  if (!v) return 'uploaded (the planner returned no version)\n';
  const what = response.created ? `uploaded ${v.model}` : `${v.model}: these bytes were uploaded before`;
  return `${what} (sha256 ${shortSha(v.sha256)}, ${formatBytes(v.bytes)})
input ${v.inputName} [${v.inputDims.join(', ')}], ${v.layers} approximable layers, ${v.options} options
accuracy model on ${datasetCell(v.datasetId)}: ${accuracyCell(v)}${v.accuracyDetail ? ` (${v.accuracyDetail})` : ''}
`;
}

export function renderModels(response: ListModelVersionsResponse): string {
  if (response.versions.length === 0) {
    return "no models uploaded yet: 'blinknet models upload <file.onnx> --name NAME'\n";
  }
  const rows = response.versions.map((v) => [
    v.model,
    shortSha(v.sha256),
    formatBytes(v.bytes),
    datasetCell(v.datasetId),
    String(v.layers),
    String(v.options),
    accuracyCell(v),
    formatTime(v.uploadedAtUnixMs),
  ]);
  const failures = response.versions
    .filter((v) => v.accuracyState === 'failed')
    .map(
      (v) =>
        `\n${v.model} ${shortSha(v.sha256)}: accuracy model failed: ${v.accuracyDetail || '(no detail)'}`,
    );
  return `${table(
    [
      { header: 'MODEL' },
      { header: 'SHA256' },
      { header: 'SIZE', align: 'right' },
      { header: 'DATASET' },
      { header: 'LAYERS', align: 'right' },
      { header: 'OPTIONS', align: 'right' },
      { header: 'ACCURACY' },
      { header: 'UPLOADED' },
    ],
    rows,
  )}${failures.join('')}\n`;
}

export function renderDevices(response: ListDevicesResponse, deviceClass: string, nowMs: number): string {
  if (response.devices.length === 0) {
    return deviceClass ? `no devices in class ${deviceClass}\n` : 'no devices enrolled yet\n';
  }
  const rows = response.devices.map((d) => [
    d.id,
    d.name || NONE,
    d.deviceClass,
    d.arch || NONE,
    d.totalMemoryBytes > 0 ? formatBytes(d.totalMemoryBytes) : NONE,
    formatAgo(d.lastSeenUnixMs, nowMs),
    formatCount(d.measurements),
    String(d.pendingJobs),
    d.cpuCores > 0 ? `${d.cpuCores} x ${d.cpuModel || 'unknown'}` : d.cpuModel || NONE,
  ]);
  return `${table(
    [
      { header: 'ID' },
      { header: 'NAME' },
      { header: 'CLASS' },
      { header: 'ARCH' },
      { header: 'MEMORY', align: 'right' },
      { header: 'LAST SEEN' },
      { header: 'MEASUREMENTS', align: 'right' },
      { header: 'JOBS', align: 'right' },
      { header: 'CPU' },
    ],
    rows,
  )}\n`;
}

export function renderClasses(response: ListDeviceClassesResponse): string {
  if (response.classes.length === 0)
    return 'no device classes yet: a class appears when its first device enrols\n';
  const rows = response.classes.map((c) => [
    c.name,
    String(c.devices),
    formatCount(c.measurements),
    c.hasPolicy ? 'yes' : 'no',
    c.profiledModels.join(', ') || NONE,
  ]);
  return `${table(
    [
      { header: 'CLASS' },
      { header: 'DEVICES', align: 'right' },
      { header: 'MEASUREMENTS', align: 'right' },
      { header: 'POLICY' },
      { header: 'PROFILED MODELS' },
    ],
    rows,
  )}\n`;
}

export function renderPolicy(policy: Policy | undefined): string {
  if (!policy) return 'no policy\n';
  const bound = <T>(value: T | undefined, show: (value: T) => string) =>
    value === undefined ? 'none' : show(value);
  const rows = [
    ...policy.models.map((m) => [
      `model ${m.model}`,
      m.latencyMs === undefined ? 'no latency bound of its own' : `latency <= ${m.latencyMs} ms`,
    ]),
    ['round latency', bound(policy.totalLatencyMs, (ms) => `<= ${ms} ms`)],
    [
      'latency percentile',
      policy.latencyPercentile ? `p${policy.latencyPercentile}` : "p95 (the planner's default)",
    ],
    ['memory', bound(policy.memoryBytes, (bytes) => `<= ${formatMegabytes(bytes)}`)],
    ['storage', bound(policy.storageBytes, (bytes) => `<= ${formatMegabytes(bytes)}`)],
    ['accuracy floor', bound(policy.accuracyFloor, (f) => `>= ${f} (${formatPercent(f)})`)],
    ['latency margin', bound(policy.latencyMargin, (f) => `${f}: plans for ${f} x every latency bound`)],
  ];
  const lines = alignRows(rows, ['left', 'left']).replace(/^/gm, '  ');
  return `policy of ${formatScope(policy.scope)}\n${lines}\n`;
}

export function renderSetPolicy(response: SetPolicyResponse): string {
  return `${renderPolicy(response.policy)}profiling jobs queued: ${response.profileJobs}\n`;
}

export function renderDeletedPolicy(scope: PolicyScope): string {
  return `deleted the policy of ${formatScope(scope)}\n`;
}

function figuresRow(label: string, figures: PlanFigures | undefined): string[] {
  if (!figures) return [label, NONE, NONE, NONE, NONE];
  return [
    label,
    formatMs(figures.latencyMs),
    formatBytes(figures.memoryBytes),
    formatBytes(figures.storageBytes),
    formatPercent(figures.accuracy),
  ];
}

/** Predicted against original: relative for costs, in accuracy points for accuracy. */
function changeRow(predicted: PlanFigures | undefined, original: PlanFigures | undefined): string[] {
  const relative = (p: number, o: number) =>
    o > 0 ? `${p >= o ? '+' : ''}${(((p - o) / o) * 100).toFixed(1)}%` : NONE;
  if (!predicted || !original) return ['change', NONE, NONE, NONE, NONE];
  const points = (predicted.accuracy - original.accuracy) * 100;
  return [
    'change',
    relative(predicted.latencyMs, original.latencyMs),
    relative(predicted.memoryBytes, original.memoryBytes),
    relative(predicted.storageBytes, original.storageBytes),
    `${points >= 0 ? '+' : ''}${points.toFixed(2)} pt`,
  ];
}

function figuresTable(rows: readonly string[][], accuracyHeader = 'ACCURACY'): string {
  return table(
    [
      { header: '' },
      { header: 'LATENCY', align: 'right' },
      { header: 'MEMORY', align: 'right' },
      { header: 'STORAGE', align: 'right' },
      { header: accuracyHeader, align: 'right' },
    ],
    rows,
  );
}

function renderModelPlan(plan: ModelPlan): string {
  const layers = table(
    [
      { header: 'LAYER' },
      { header: 'OPTION' },
      { header: 'LATENCY', align: 'right' },
      { header: 'MEMORY', align: 'right' },
      { header: 'STORAGE', align: 'right' },
      { header: 'LOSS', align: 'right' },
      { header: 'WHY' },
    ],
    plan.layers.map((l) => [
      l.layer,
      l.option,
      formatMs(l.latencyMs),
      formatBytes(l.memoryBytes),
      formatBytes(l.storageBytes),
      `${l.accuracyLoss.toFixed(2)} pt`,
      l.why || NONE,
    ]),
  );
  const figures = figuresTable([
    figuresRow('predicted', plan.predicted),
    figuresRow('original', plan.original),
    changeRow(plan.predicted, plan.original),
  ]);
  return `model ${plan.model} (sha256 ${shortSha(plan.sha256)})\n${layers}\n\n${figures}\n`;
}

export function renderPlan(response: PreviewPlanResponse, scope: PolicyScope): string {
  const verdict = response.feasible ? 'feasible' : 'INFEASIBLE';
  const costModel = response.deviceClass ? `, on the latencies of class ${response.deviceClass}` : '';
  const solver = `solver ${response.method || NONE} in ${formatMs(response.planningMs)}${costModel}`;
  const sections = [`plan for ${formatScope(scope)}: ${verdict} (${solver})\n`];
  if (!response.feasible) {
    sections.push(
      `out of reach: ${response.unreachable.join(', ') || NONE}\n` +
        `tightest achievable, each figure on its own:\n${figuresTable([figuresRow('tightest', response.tightest)])}\n`,
    );
  }
  sections.push(...response.models.map(renderModelPlan));
  if (response.feasible || response.totals) {
    sections.push(
      `totals, every model in one round:\n${figuresTable([figuresRow('predicted', response.totals)], 'LOWEST ACCURACY')}\n`,
    );
  }
  return sections.join('\n');
}
