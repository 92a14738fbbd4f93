import { type sendUnaryData, type ServerReadableStream, type ServiceError, status } from '@grpc/grpc-js';
import { InvalidArgumentError, NotFoundError, PreconditionError, toError } from '@blinknet/core';
import { type FeasiblePlan } from '@blinknet/planner-core';
import {
  type AdminServiceServer,
  type Deployment,
  type ModelVersion,
  type Policy,
  type PolicyScope as PolicyScopeProto,
  type PreviewPlanResponse,
  type UploadHeader,
  type UploadModelRequest,
  type UploadModelResponse,
} from '@blinknet/proto/v1/admin';
import {
  type DeploymentRecord,
  listDeviceClasses,
  listDeployments,
  listDevices,
  listModelVersions,
  listPolicies,
  modelVersionBySha256,
  type ModelVersionRecord,
  type OpenedDatabase,
  type PolicyRecord,
  type PolicyScope,
  setPolicy,
  deletePolicy,
  getPolicy,
} from '@blinknet/store';
import { type AccuracyWorker } from './accuracy';
import { type AgentServiceImpl } from './agent-service';
import { bearerToken, tokenMatches } from './auth';
import { storeUpload } from './catalog';
import { type Deployer } from './deploy';
import { DEFAULT_LATENCY_MARGIN, originalFigures, planPolicy, type PredictedFigures } from './planning';
import { loopState } from './loop';
import { queueProfiling } from './profiling';

/** The most an upload may announce: well above any edge model, well below a memory problem. */
export const MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;

/** gRPC status for what a call threw: bad input, unknown things and unmet preconditions say so. */
export function grpcError(error: unknown): Partial<ServiceError> {
  const e = toError(error);
  if (e instanceof InvalidArgumentError) return { code: status.INVALID_ARGUMENT, details: e.message };
  if (e instanceof NotFoundError) return { code: status.NOT_FOUND, details: e.message };
  if (e instanceof PreconditionError) return { code: status.FAILED_PRECONDITION, details: e.message };
  return { code: status.INTERNAL, details: e.message };
}

function versionInfo(v: ModelVersionRecord): ModelVersion {
  return {
    model: v.model,
    sha256: v.sha256,
    bytes: v.bytes,
    datasetId: v.datasetId ?? '',
    inputName: v.inputName,
    inputDims: [...v.inputDims],
    layers: new Set(v.options.map((o) => o.layer)).size,
    options: v.options.length,
    accuracyState: v.accuracyState,
    optionsEvaluated: v.options.filter((o) => o.accuracy !== undefined || o.unavailable !== undefined).length,
    calibrationAccuracy: v.calibrationAccuracy ?? 0,
    heldOutAccuracy: v.heldOutAccuracy ?? 0,
    accuracyDetail: v.accuracyDetail ?? '',
    uploadedAtUnixMs: v.createdAt.getTime(),
  };
}

function scopeOf(scope: PolicyScopeProto | undefined): PolicyScope {
  if (scope?.deviceClass) return { deviceClass: scope.deviceClass };
  if (scope?.deviceId) return { deviceId: scope.deviceId };
  throw new InvalidArgumentError('scope', 'name a device class or a device id');
}

function scopeProto(scope: PolicyScope): PolicyScopeProto {
  return 'deviceClass' in scope ? { deviceClass: scope.deviceClass } : { deviceId: scope.deviceId };
}

function policyProto(p: PolicyRecord): Policy {
  return {
    scope: scopeProto(p.scope),
    models: p.models.map((m) => ({ model: m.model, latencyMs: m.latencyBoundMs })),
    totalLatencyMs: p.totalLatencyBoundMs,
    latencyPercentile: p.latencyPercentile,
    memoryBytes: p.memoryBoundBytes,
    storageBytes: p.storageBoundBytes,
    accuracyFloor: p.accuracyFloor,
    latencyMargin: p.latencyMargin,
  };
}

/** A deployment as operators see it: predicted beside measured. */
function deploymentProto(d: DeploymentRecord): Deployment {
  const predicted = (d.plan.predicted as PredictedFigures).models[d.model];
  const heldOut = (d.plan.measured as { heldOutAccuracy?: Record<string, number> } | undefined)
    ?.heldOutAccuracy;
  const ladder = d.plan.ladder[d.model] ?? [];
  const verified = d.measured.latencyMs !== undefined;
  return {
    id: d.id,
    planId: d.planId,
    round: d.round,
    deviceId: d.deviceId,
    deviceName: d.deviceName,
    deviceClass: d.deviceClass,
    model: d.model,
    state: d.state,
    detail: d.detail ?? '',
    updatedAtUnixMs: d.updatedAt.getTime(),
    ladder: ladder.map((r) => ({
      sha256: r.sha256,
      bytes: r.bytes,
      factor: r.factor,
      options: Object.fromEntries(Object.entries(r.choices).filter(([, option]) => option !== 'exact')),
    })),
    // A device stores its whole ladder, whose bytes are exact once built.
    predicted: predicted && {
      latencyMs: predicted.latencyMs,
      memoryBytes: predicted.memoryBytes,
      storageBytes: ladder.reduce((n, r) => n + r.bytes, 0),
      accuracy: predicted.accuracy,
    },
    measured: {
      latencyMs: d.measured.latencyMs ?? 0,
      memoryBytes: d.measured.residentBytes ?? 0,
      storageBytes: verified ? ladder.reduce((n, r) => n + r.bytes, 0) : 0,
      accuracy: heldOut?.[d.model] ?? 0,
    },
    violations: [...d.violations],
  };
}

/** Why the solver chose an option, against exact. */
function why(
  option: string,
  exact: { latencyMs: number; memoryBytes: number; storageBytes: number },
  chosen: {
    latencyMs: number;
    memoryBytes: number;
    storageBytes: number;
    loss: number;
  },
): string {
  if (option === 'exact') return 'exact: approximating it was not needed';
  const saved = [
    exact.latencyMs - chosen.latencyMs > 0 ? `${(exact.latencyMs - chosen.latencyMs).toFixed(3)} ms` : '',
    exact.memoryBytes - chosen.memoryBytes > 0 ? `${exact.memoryBytes - chosen.memoryBytes} B memory` : '',
    exact.storageBytes - chosen.storageBytes > 0
      ? `${exact.storageBytes - chosen.storageBytes} B storage`
      : '',
  ].filter(Boolean);
  return `saves ${saved.join(', ') || 'nothing measurable'} for ${chosen.loss.toFixed(2)} accuracy points`;
}

export interface AdminServiceOptions {
  readonly db: OpenedDatabase;
  readonly dataDir: string;
  readonly adminToken: string;
  readonly accuracy: AccuracyWorker;
  readonly agents: AgentServiceImpl;
  readonly deployer: Deployer;
}

/**
 * The operator API (admin token, "authorization: Bearer"): uploads, listings, policies and plan
 * previews. Nothing is written for a call that fails.
 */
export class AdminServiceImpl {
  constructor(private readonly options: AdminServiceOptions) {}

  private preview(result: Awaited<ReturnType<typeof planPolicy>>): PreviewPlanResponse {
    const { solution, models, policy } = result;
    const className = 'deviceClass' in policy.scope ? policy.scope.deviceClass : '';
    const base = { planningMs: result.planningMs, deviceClass: className, method: solution.method };
    const accuracyOf = (model: string, loss: number) => {
      const m = models.find((x) => x.version.model === model)!;
      return m.accuracy - loss / 100;
    };
    if (!solution.feasible || result.belowFloor.length > 0) {
      const tightest = solution.feasible ? undefined : solution.tightest;
      return {
        ...base,
        feasible: false,
        models: [],
        totals: undefined,
        unreachable: solution.feasible
          ? result.belowFloor.map((m) => `accuracy:${m}`)
          : [...solution.unreachable],
        tightest: tightest && {
          latencyMs: tightest.totalLatencyMs,
          memoryBytes: tightest.memoryBytes,
          storageBytes: tightest.storageBytes,
          accuracy: 0,
        },
      };
    }
    const plan = solution as FeasiblePlan;
    return {
      ...base,
      feasible: true,
      unreachable: [],
      tightest: undefined,
      totals: {
        latencyMs: plan.totals.latencyMs,
        memoryBytes: plan.totals.memoryBytes,
        storageBytes: plan.totals.storageBytes,
        accuracy: Math.min(
          ...models.map((m) => accuracyOf(m.version.model, plan.perModel[m.version.model].loss)),
        ),
      },
      models: models.map(({ version, problem }) => {
        const figures = plan.perModel[version.model];
        const original = originalFigures(problem);
        return {
          model: version.model,
          sha256: version.sha256,
          predicted: { ...figures, accuracy: accuracyOf(version.model, figures.loss) },
          original: { ...original, accuracy: accuracyOf(version.model, 0) },
          fixed: { ...problem.fixed, accuracy: 0 },
          layers: problem.layers.map((l) => {
            const option = plan.choices[version.model][l.layer];
            const chosen = l.options.find((o) => o.option === option)!;
            return {
              layer: l.layer,
              option,
              latencyMs: chosen.latencyMs,
              memoryBytes: chosen.memoryBytes,
              storageBytes: chosen.storageBytes,
              accuracyLoss: chosen.loss,
              why: why(option, l.options[0], chosen),
            };
          }),
        };
      }),
    };
  }

  handlers(): AdminServiceServer {
    const { db } = this.options;
    const unauthenticated: Partial<ServiceError> = {
      code: status.UNAUTHENTICATED,
      details: 'missing or wrong admin token',
    };
    const authorized = (metadata: Parameters<typeof bearerToken>[0]) =>
      tokenMatches(bearerToken(metadata), this.options.adminToken);
    /** A unary handler: authenticated, errors mapped to gRPC statuses. */
    const unary =
      <Req, Res>(handle: (request: Req) => Promise<Res>) =>
      (call: { request: Req; metadata: Parameters<typeof bearerToken>[0] }, callback: sendUnaryData<Res>) => {
        if (!authorized(call.metadata)) return callback(unauthenticated);
        handle(call.request).then(
          (response) => callback(null, response),
          (error: unknown) => callback(grpcError(error)),
        );
      };

    return {
      uploadModel: (
        call: ServerReadableStream<UploadModelRequest, UploadModelResponse>,
        callback: sendUnaryData<UploadModelResponse>,
      ) => {
        if (!authorized(call.metadata)) {
          call.on('data', () => undefined);
          return callback(unauthenticated);
        }
        let header: UploadHeader | undefined;
        const chunks: Buffer[] = [];
        let received = 0;
        let failed: Partial<ServiceError> | undefined;
        const fail = (details: string) => {
          failed ??= { code: status.INVALID_ARGUMENT, details };
        };
        call.on('data', (message: UploadModelRequest) => {
          if (failed) return;
          if (message.header) {
            if (header) return fail('the header came twice');
            if (message.header.bytes + message.header.inputsBytes > MAX_UPLOAD_BYTES) {
              return fail(`an upload may hold at most ${MAX_UPLOAD_BYTES} bytes`);
            }
            header = message.header;
          } else if (message.chunk) {
            if (!header) return fail('the first message must be the header');
            received += message.chunk.length;
            const announced = header.bytes + header.inputsBytes;
            if (received > announced) return fail(`more bytes than the header announced (${announced})`);
            chunks.push(Buffer.from(message.chunk));
          }
        });
        call.on('error', () => undefined); // a cancelled upload stores nothing
        call.on('end', () => {
          if (failed) return callback(failed);
          if (!header) return callback({ code: status.INVALID_ARGUMENT, details: 'no header was sent' });
          const h = header;
          (async () => {
            const { created, sha256 } = await storeUpload(db, this.options.dataDir, h, Buffer.concat(chunks));
            const version = (await modelVersionBySha256(db.prisma, sha256))!;
            if (version.accuracyState === 'pending') this.options.accuracy.enqueue(sha256);
            return { version: versionInfo(version), created };
          })().then(
            (response) => callback(null, response),
            (error: unknown) => callback(grpcError(error)),
          );
        });
      },

      listModelVersions: unary(async () => ({
        versions: (await listModelVersions(db.prisma)).map(versionInfo),
      })),

      listDeviceClasses: unary(async () => ({
        classes: (await listDeviceClasses(db.prisma)).map((c) => ({
          name: c.name,
          devices: c.devices,
          measurements: c.measurements,
          profiledModels: c.profiled.map((p) => `${p.model}@${p.sha256.slice(0, 12)}`),
          hasPolicy: c.hasPolicy,
        })),
      })),

      listDevices: unary(async (request: { deviceClass: string }) => {
        const served = await listDeployments(db.prisma, { latest: true });
        return {
          devices: (await listDevices(db.prisma, request.deviceClass || undefined)).map((d) => ({
            id: d.id,
            name: d.name,
            deviceClass: d.deviceClass,
            arch: String(d.facts.arch ?? ''),
            cpuModel: String(d.facts.cpuModel ?? ''),
            cpuCores: Number(d.facts.cpuCores ?? 0),
            totalMemoryBytes: Number(d.facts.totalMemoryBytes ?? 0),
            lastSeenUnixMs: d.lastSeenAt.getTime(),
            measurements: d.measurements,
            pendingJobs: d.pendingJobs,
            models: served
              .filter((s) => s.deviceId === d.id)
              .map((s) => {
                const figures = deploymentProto(s).measured!;
                return {
                  model: s.model,
                  state: s.state,
                  latencyMs: figures.latencyMs,
                  memoryBytes: figures.memoryBytes,
                  storageBytes: figures.storageBytes,
                };
              }),
          })),
        };
      }),

      setPolicy: unary(async (request: { policy?: Policy }) => {
        const p = request.policy;
        if (!p) throw new InvalidArgumentError('policy', 'is required');
        const stored = await setPolicy(db.prisma, {
          scope: scopeOf(p.scope),
          models: p.models.map((m) => ({ model: m.model, latencyBoundMs: m.latencyMs })),
          totalLatencyBoundMs: p.totalLatencyMs,
          latencyPercentile: p.latencyPercentile || 95,
          memoryBoundBytes: p.memoryBytes,
          storageBoundBytes: p.storageBytes,
          accuracyFloor: p.accuracyFloor,
          latencyMargin: p.latencyMargin ?? DEFAULT_LATENCY_MARGIN,
        });
        return {
          policy: policyProto(stored),
          profileJobs: await queueProfiling(db, this.options.agents, stored),
        };
      }),

      getPolicy: unary(async (request: { scope?: PolicyScopeProto }) => ({
        policy: policyProto(await getPolicy(db.prisma, scopeOf(request.scope))),
      })),

      deletePolicy: unary(async (request: { scope?: PolicyScopeProto }) => {
        await deletePolicy(db.prisma, scopeOf(request.scope));
        return {};
      }),

      previewPlan: unary(async (request: { scope?: PolicyScopeProto }) =>
        this.preview(await planPolicy(db, scopeOf(request.scope))),
      ),

      deploy: unary(async (request: { scope?: PolicyScopeProto }) => {
        const { planId, result, deploymentIds } = await this.options.deployer.deploy(scopeOf(request.scope));
        const deployments = await listDeployments(db.prisma, { planId });
        return {
          planId,
          plan: this.preview(result),
          deployments: deployments.filter((d) => deploymentIds.includes(d.id)).map(deploymentProto),
        };
      }),

      getStatus: unary(async (request: { scope?: PolicyScopeProto }) => {
        const policies = request.scope
          ? [await getPolicy(db.prisma, scopeOf(request.scope))]
          : await listPolicies(db.prisma);
        const policyId = request.scope ? policies[0].id : undefined;
        return {
          deployments: (await listDeployments(db.prisma, { policyId, latest: true })).map(deploymentProto),
          loops: await Promise.all(
            policies.map(async (p) => ({ scope: scopeProto(p.scope), ...(await loopState(db, p)) })),
          ),
        };
      }),

      rollback: unary(async (request: { scope?: PolicyScopeProto }) => {
        const { planId, deploymentIds } = await this.options.deployer.rollback(scopeOf(request.scope));
        const deployments = await listDeployments(db.prisma, { planId });
        return {
          planId,
          deployments: deployments.filter((d) => deploymentIds.includes(d.id)).map(deploymentProto),
        };
      }),
    };
  }
}
