import { BYTES_PER_MB, formatBytes, formatCount } from '@blinknet/core';
import {
  type DeployResponse,
  type Deployment,
  type GetStatusResponse,
  type ListDeviceClassesResponse,
  type ListDevicesResponse,
  type ListModelVersionsResponse,
  type LoopState,
  type ModelPlan,
  type ModelVersion,
  type PlanFigures,
  type Policy,
  type PolicyScope,
  type PreviewPlanResponse,
  type RollbackResponse,
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

/** Seconds in UTC, for `status --watch`: 2025-11-26 12:00:02Z. */
export function formatInstant(unixMs: number): string {
  return `${new Date(unixMs).toISOString().slice(0, 19).replace('T', ' ')}Z`;
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

/** The flag that names a scope on the command line: --class rpi4. */
function scopeFlag(scope: PolicyScope): string {
  if (scope.deviceClass !== undefined) return `--class ${scope.deviceClass}`;
  if (scope.deviceId !== undefined) return `--device ${scope.deviceId}`;
  return '(--class C | --device ID)';
}

/** `1 deployment`, `4 deployments`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
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
  // What each device serves, with the p95 it measured for it.
  const serving = response.devices.flatMap((d) =>
    d.models.map(
      (m) =>
        `  ${d.name || d.id}  ${m.model}: ${m.state}, latency ${m.latencyMs > 0 ? formatMs(m.latencyMs) : NONE}, ` +
        `memory ${m.memoryBytes > 0 ? formatBytes(m.memoryBytes) : NONE}, storage ${m.storageBytes > 0 ? formatBytes(m.storageBytes) : NONE}\n`,
    ),
  );
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
  )}\n${serving.length > 0 ? `\nserving (newest deployment per model, as measured on the device):\n${serving.join('')}` : ''}`;
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
    // What no option changes (a run's overhead and tail; session overhead, activations): in both.
    [...figuresRow('fixed, in both', plan.fixed).slice(0, 4), NONE],
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

// ---- deployments ----

/** A deployment in one of these states has ended: its device reports nothing more about it. */
export const ENDED_STATES: readonly string[] = ['active', 'failed', 'rolled-back'];
/** The order a deployment passes through its states (admin.proto, Deployment.state). */
const STATE_ORDER = ['pending', 'downloading', 'verifying', 'active', 'failed', 'rolled-back'];

/** How figures of one kind are shown: the unit that suits the larger of two, and a value in it. */
type Scale = (largest: number) => { readonly number: (value: number) => string; readonly unit: string };

const MILLISECONDS: Scale = (largest) => ({
  number: (ms) => ms.toFixed(largest >= 100 ? 1 : largest >= 10 ? 2 : 3),
  unit: ' ms',
});

/** The units and digits of formatBytes. */
const BYTES: Scale = (largest) => {
  if (largest < 1_000) return { number: (bytes) => String(bytes), unit: ' B' };
  if (largest < 1_000_000) return { number: (bytes) => (bytes / 1_000).toFixed(1), unit: ' kB' };
  if (largest < 1_000_000_000) return { number: (bytes) => (bytes / 1_000_000).toFixed(2), unit: ' MB' };
  return { number: (bytes) => (bytes / 1_000_000_000).toFixed(2), unit: ' GB' };
};

const PERCENT: Scale = () => ({ number: (fraction) => (fraction * 100).toFixed(2), unit: '%' });

/**
 * Predicted and measured in one unit, to be shown as `0.301 / 0.287 ms`, `6.420 / - ms`; a figure not
 * known (zero, admin.proto Deployment.measured) is '-'.
 */
function predictedMeasured(
  predicted: number | undefined,
  measured: number | undefined,
  scale: Scale,
): [predicted: string, measured: string] {
  const known = (value: number | undefined): value is number => value !== undefined && value > 0;
  if (!known(predicted) && !known(measured)) return [NONE, NONE];
  const { number, unit } = scale(Math.max(predicted ?? 0, measured ?? 0));
  return [
    known(predicted) ? number(predicted) : NONE,
    known(measured) ? `${number(measured)}${unit}` : `${NONE} ${unit.trim()}`,
  ];
}

/** A column of predicted / measured pairs, their slashes one above the other. */
function pairColumn(pairs: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...pairs.map(([predicted]) => predicted.length));
  return pairs.map(([predicted, measured]) => `${predicted.padStart(width)} / ${measured}`);
}

function deviceCell(d: Deployment): string {
  return d.deviceName || d.deviceId;
}

const FIGURES_LEGEND = `figures: predicted / measured ('-' until known): latency p95 and memory on the device, storage of
its whole ladder (RUNGS artifacts), accuracy on the held-out split`;

/** One line per deployment and what its figures are, then why those that failed did. */
function deploymentsTable(deployments: readonly Deployment[]): string {
  const figures = (figure: keyof PlanFigures, scale: Scale) =>
    pairColumn(deployments.map((d) => predictedMeasured(d.predicted?.[figure], d.measured?.[figure], scale)));
  const latency = figures('latencyMs', MILLISECONDS);
  const memory = figures('memoryBytes', BYTES);
  const storage = figures('storageBytes', BYTES);
  const accuracy = figures('accuracy', PERCENT);
  const rows = deployments.map((d, i) => [
    deviceCell(d),
    d.deviceClass || NONE,
    d.model,
    d.state || NONE,
    String(d.round),
    latency[i],
    memory[i],
    storage[i],
    accuracy[i],
    String(d.ladder.length),
  ]);
  const lines = table(
    [
      { header: 'DEVICE' },
      { header: 'CLASS' },
      { header: 'MODEL' },
      { header: 'STATE' },
      { header: 'ROUND', align: 'right' },
      { header: 'LATENCY p95' },
      { header: 'MEMORY' },
      { header: 'STORAGE' },
      { header: 'ACCURACY' },
      { header: 'RUNGS', align: 'right' },
    ],
    rows,
  );
  return `${lines}\n${FIGURES_LEGEND}\n${deploymentProblems(deployments)}`;
}

/** The bounds a device found violated, and a failure's detail beyond its state; '' when none. */
function deploymentProblems(deployments: readonly Deployment[]): string {
  const rows = deployments.flatMap((d) => {
    const detail = d.detail && d.detail !== d.state ? d.detail : d.state;
    if (d.violations.length === 0 && detail === d.state) return [];
    const violated = d.violations.length > 0 ? `; violated ${d.violations.join('; ')}` : '';
    return [[deviceCell(d), d.model, `${detail}${violated}`]];
  });
  if (rows.length === 0) return '';
  const lines = alignRows(rows, ['left', 'left', 'left']).replace(/^/gm, '  ');
  return `\nbounds violated and failures:\n${lines}\n`;
}

/** `5 deployments: 3 active, 1 failed, 1 rolled-back`, states in the order deployments go through them. */
function stateSummary(deployments: readonly Deployment[]): string {
  const states = [...new Set(deployments.map((d) => d.state))].sort(
    (a, b) => rank(a) - rank(b) || a.localeCompare(b),
  );
  const counts = states.map((state) => `${deployments.filter((d) => d.state === state).length} ${state}`);
  return `${count(deployments.length, 'deployment')}: ${counts.join(', ')}`;
}

function rank(state: string): number {
  const i = STATE_ORDER.indexOf(state);
  return i < 0 ? STATE_ORDER.length : i;
}

// ---- closed loops ----

/** A policy's closed loop in one of these states has ended: the planner deploys nothing more for it. */
export const LOOP_ENDED_STATES: readonly string[] = ['converged', 'failed', 'infeasible'];

/** ` (plan X; detail)` of the parts that are known, or ''. */
function aside(...parts: readonly string[]): string {
  const known = parts.filter((part) => part !== '');
  return known.length > 0 ? ` (${known.join('; ')})` : '';
}

/**
 * Where a policy's closed loop stands (admin.proto, LoopState): `policy of class rpi4: converged in
 * round 2 (plan cm...)`, `policy of class x86: infeasible: out of reach: memory`.
 */
export function formatLoop(loop: LoopState): string {
  return `policy of ${formatScope(loop.scope)}: ${loopProgress(loop)}`;
}

function loopProgress(loop: LoopState): string {
  const plan = loop.planId ? `plan ${loop.planId}` : '';
  switch (loop.state) {
    case 'waiting':
      return ['waiting', loop.detail].filter((part) => part !== '').join(' ');
    case 'deploying':
      return `deploying round ${loop.round}${aside(loop.detail)}`;
    case 'converged':
      return `converged in round ${loop.round}${aside(plan, loop.detail)}`;
    case 'failed':
      return `failed: bounds not met after round ${loop.round}${aside(plan, loop.detail)}`;
    case 'infeasible':
      return `infeasible: out of reach: ${loop.unreachable.join(', ') || NONE}${aside(loop.detail)}`;
    default: // a state this CLI does not know yet
      return `${loop.state || NONE}${loop.round > 0 ? ` in round ${loop.round}` : ''}${aside(plan, loop.detail)}`;
  }
}

/** `scope` undefined: every deployment (and every policy's loop) was asked for. */
export function renderStatus(response: GetStatusResponse, scope: PolicyScope | undefined): string {
  const loops = response.loops.map((loop) => `${formatLoop(loop)}\n`).join('');
  return loops ? `${loops}\n${renderDeployments(response, scope)}` : renderDeployments(response, scope);
}

function renderDeployments(response: GetStatusResponse, scope: PolicyScope | undefined): string {
  if (response.deployments.length === 0) {
    // A policy's loop deploys by itself once it can: 'blinknet deploy' would not help it along.
    if (response.loops.length > 0) {
      return scope ? `no deployments of the policy of ${formatScope(scope)} yet\n` : 'no deployments yet\n';
    }
    return scope
      ? `no deployments of the policy of ${formatScope(scope)}: 'blinknet deploy ${scopeFlag(scope)}'\n`
      : "no deployments yet: 'blinknet deploy (--class C | --device ID)'\n";
  }
  return `${stateSummary(response.deployments)}\n${deploymentsTable(response.deployments)}`;
}

function follow(scope: PolicyScope): string {
  return `follow them with 'blinknet status ${scopeFlag(scope)} --watch'\n`;
}

export function renderDeploy(response: DeployResponse, scope: PolicyScope): string {
  const plan = response.plan ? renderPlan(response.plan, scope) : '(the planner returned no plan)\n';
  return `deploying plan ${response.planId} to ${formatScope(scope)}: ${count(response.deployments.length, 'deployment')} queued

${plan}
${queued(response.deployments, scope)}`;
}

export function renderRollback(response: RollbackResponse, scope: PolicyScope): string {
  return `rolling ${formatScope(scope)} back to plan ${response.planId}: ${count(response.deployments.length, 'deployment')} queued

${queued(response.deployments, scope)}`;
}

function queued(deployments: readonly Deployment[], scope: PolicyScope): string {
  if (deployments.length === 0) return 'no deployments queued\n';
  return `${deploymentsTable(deployments)}${follow(scope)}`;
}
