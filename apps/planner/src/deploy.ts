/**
 * From a solved plan to files on devices: the artifacts of the plan and of its ladder (built with
 * libs/approx, provenance in their metadata), their accuracy on the held-out split, and one
 * deployment job per (device, model) carrying the bounds that device must verify.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger } from 'pino';
import { PreconditionError } from '@blinknet/core';
import { applyPlan } from '@blinknet/approx';
import { decodeModel, encodeModel, type ModelProto, writeFileAtomic } from '@blinknet/onnx';
import { type FeasiblePlan, ladder, type PlanProblem } from '@blinknet/planner-core';
import { WatchJobsResponse } from '@blinknet/proto/v1/agent';
import { OrtMatrixEngine } from '@blinknet/runtime';
import {
  activePlans,
  createDeployments,
  getPolicy,
  type DeviceSummary,
  type LadderArtifact,
  listDeployments,
  type ModelVersionRecord,
  type OpenedDatabase,
  planById,
  type PolicyRecord,
  type PolicyScope,
  savePlan,
} from '@blinknet/store';
import {
  type AccuracySettings,
  type ApproximationContext,
  approximationContext,
  evaluationData,
  flipRate,
  top1,
  withDefaults,
} from './accuracy';
import { type AgentServiceImpl } from './agent-service';
import {
  type CheckedPlan,
  chooseChecked,
  correctPlan,
  type Corrections,
  type PlanCheck,
  planPolicy,
  type PlanOptions,
  type PlanResult,
  type PredictedFigures,
  samePlan,
  TECHNIQUES,
} from './planning';
import { rawFigures } from './calibration';
import { devicesInScope } from './profiling';

/** Latency factors of the ladder's tighter rungs, for on-device step-down. */
export const LADDER_FACTORS = [0.85, 0.7];

interface BuiltRung extends LadderArtifact {
  readonly storagePath: string;
}

/** No plan meets the policy's bounds on the class's (corrected) cost model. */
export class InfeasiblePlanError extends PreconditionError {
  override readonly name: string = 'InfeasiblePlanError';

  constructor(
    readonly unreachable: readonly string[],
    readonly result: PlanResult,
  ) {
    super(`no plan meets the policy's bounds (out of reach: ${unreachable.join(', ')})`);
  }
}

/** Plans built and checked per deployment, at most; the one deployed is chosen by chooseChecked. */
export const PLAN_CHECKS = 4;

/**
 * Provenance in the file: which version and choices it was built from (also makes its sha256 differ
 * from the original's even when every layer stays exact).
 */
function withProvenance(
  approx: ModelProto,
  version: ModelVersionRecord,
  choices: Readonly<Record<string, string>>,
): ModelProto {
  return {
    ...approx,
    metadataProps: [
      ...approx.metadataProps.filter((p) => !p.key.startsWith('blinknet.')),
      { key: 'blinknet.source_sha256', value: version.sha256 },
      { key: 'blinknet.choices', value: JSON.stringify(choices) },
    ],
  };
}

interface Workspace {
  readonly version: ModelVersionRecord;
  readonly model: ModelProto;
  readonly data: Awaited<ReturnType<typeof evaluationData>>;
  readonly engine: OrtMatrixEngine;
  readonly context: ApproximationContext;
  /** The original model's predictions on the calibration split. */
  readonly original: Uint8Array;
}

/** What a model's shares of the joint bounds are in proportion to. */
export interface ShareBasis {
  readonly latencyMs: number;
  readonly memoryBytes: number;
}

/** The part of the policy's bounds one model's devices verify. */
interface ModelShare {
  readonly latencyMs?: number;
  readonly memoryBytes?: number;
  readonly storageBytes?: number;
}

export class Deployer {
  private readonly settings: Required<AccuracySettings>;

  constructor(
    private readonly db: OpenedDatabase,
    private readonly dataDir: string,
    private readonly agents: AgentServiceImpl,
    private readonly log: Logger,
    settings: AccuracySettings = {},
  ) {
    this.settings = withDefaults(settings);
  }

  /**
   * Solves the scope's policy, checks the built plan's accuracy on the calibration split and its
   * bytes (re-solving with what it measured when the additive model was optimistic), builds and stores the plan and its
   * ladder's artifacts, and queues the deployments. @throws PreconditionError when no plan meets the
   * bounds, InfeasiblePlanError among them
   */
  async deploy(
    scope: PolicyScope,
    loop: {
      readonly round?: number;
      readonly corrections?: Corrections;
      /** Deploy to this many of the scope's devices only (canaries). @default all */
      readonly devices?: number;
    } & PlanOptions = {},
  ): Promise<{ planId: string; result: PlanResult; deploymentIds: string[] }> {
    const workspaces = new Map<string, Workspace>();
    try {
      let corrections = loop.corrections ?? {};
      let result = await this.solve(scope, corrections, loop);
      const checked: (CheckedPlan & { readonly result: PlanResult })[] = [];
      for (let attempt = 1; ; attempt++) {
        const plan = result.solution as FeasiblePlan;
        const checks = await this.checkPlan(result, workspaces);
        checked.push({ result, plan, checks });
        const next = correctPlan(corrections, plan, checks, result.problem.storageBoundBytes);
        if (!next || attempt === PLAN_CHECKS) break;
        corrections = next;
        const resolved = await this.solveIfFeasible(scope, corrections, loop);
        if (!resolved) break; // the plans checked so far remain
        result = resolved;
      }
      // Each technique's own plan for the same bounds, at no less headroom (see TECHNIQUES).
      const margin = checked[0].result.problem.latencyMargin ?? 1;
      const full = checked.length;
      for (const technique of TECHNIQUES) {
        const alternative = await this.solveIfFeasible(scope, corrections, { ...loop, technique });
        if (
          !alternative ||
          (alternative.problem.latencyMargin ?? 1) > margin ||
          checked.some((c) => samePlan(c.plan, alternative.solution as FeasiblePlan))
        )
          continue;
        const plan = alternative.solution as FeasiblePlan;
        checked.push({ result: alternative, plan, checks: await this.checkPlan(alternative, workspaces) });
      }
      // Never a plan whose built artifacts were not checked, nor one that lost the accuracy floor.
      const accuracy = Object.fromEntries(result.models.map((m) => [m.version.model, m.accuracy]));
      const { accuracyFloor, storageBoundBytes } = result.policy;
      const { chosen } = chooseChecked(checked, accuracy, accuracyFloor, storageBoundBytes);
      if (chosen === undefined) {
        // Named as the last full plan lost it (the corrected one).
        const { belowFloor } = chooseChecked(
          checked.slice(0, full),
          accuracy,
          accuracyFloor,
          storageBoundBytes,
        );
        throw new InfeasiblePlanError(
          belowFloor.map((m) => `accuracy:${m}`),
          result,
        );
      }
      if (chosen >= full) {
        this.log.info(
          { technique: checked[chosen].result.technique },
          'plan: a single technique lost least as checked',
        );
      }
      // The ladder's tighter rungs are solved over every option, whichever plan goes out.
      return await this.roll(
        checked[chosen].result,
        result.problem,
        corrections,
        loop.round ?? 1,
        workspaces,
        loop.devices,
      );
    } finally {
      await Promise.all([...workspaces.values()].map((w) => w.engine.dispose()));
    }
  }

  /** `solve`, or undefined where no plan meets the bounds. */
  private async solveIfFeasible(
    scope: PolicyScope,
    corrections: Corrections,
    options: PlanOptions,
  ): Promise<PlanResult | undefined> {
    try {
      return await this.solve(scope, corrections, options);
    } catch (error) {
      if (error instanceof InfeasiblePlanError) return undefined;
      throw error;
    }
  }

  private async solve(
    scope: PolicyScope,
    corrections: Corrections,
    options: PlanOptions,
  ): Promise<PlanResult> {
    const result = await planPolicy(this.db, scope, corrections, options);
    const { solution } = result;
    if (!solution.feasible || result.belowFloor.length > 0) {
      const unreachable = solution.feasible
        ? result.belowFloor.map((m) => `accuracy:${m}`)
        : [...solution.unreachable];
      throw new InfeasiblePlanError(unreachable, result);
    }
    return result;
  }

  /** A model's file, data sets and approximation context, made once per deployment. */
  private async workspace(
    version: ModelVersionRecord,
    workspaces: Map<string, Workspace>,
  ): Promise<Workspace> {
    let w = workspaces.get(version.model);
    if (!w) {
      const bytes = readFileSync(join(this.dataDir, version.storagePath));
      const data = await evaluationData(version, bytes, this.settings, this.dataDir);
      const engine = new OrtMatrixEngine();
      w = {
        version,
        model: decodeModel(bytes, version.model),
        data,
        engine,
        context: approximationContext(engine, version.inputName, data),
        original: (await top1(bytes, data.calibration, version.inputName)).predictions,
      };
      workspaces.set(version.model, w);
    }
    return w;
  }

  /**
   * Builds each model of the plan as it would be deployed and measures it: the share of changed
   * predictions on the calibration split (as the accuracy model counts loss) and the artifact's bytes.
   * Returns the corrections this calls for (correctPlan), or undefined when all is as predicted.
   */
  private async checkPlan(
    result: PlanResult,
    workspaces: Map<string, Workspace>,
  ): Promise<Record<string, PlanCheck>> {
    const plan = result.solution as FeasiblePlan;
    const checks: Record<string, PlanCheck> = {};
    for (const { version } of result.models) {
      const choices = plan.choices[version.model];
      const w = await this.workspace(version, workspaces);
      const file = encodeModel(
        withProvenance(await applyPlan(w.model, choices, w.context), version, choices),
      );
      const exact = Object.values(choices).every((option) => option === 'exact');
      const loss = exact
        ? undefined
        : flipRate(w.original, (await top1(file, w.data.calibration, version.inputName)).predictions);
      checks[version.model] = { loss, storageBytes: file.length };
      this.log.info(
        {
          model: version.model,
          predictedLatencyMs: plan.perModel[version.model].latencyMs,
          predictedLoss: plan.perModel[version.model].loss / 100,
          measuredLoss: loss,
          predictedBytes: plan.perModel[version.model].storageBytes,
          bytes: file.length,
        },
        'plan checked',
      );
    }
    return checks;
  }

  /** Builds the plan's and its ladder's artifacts, stores the plan and queues its deployments. */
  private async roll(
    result: PlanResult,
    rungProblem: PlanProblem,
    corrections: Corrections,
    round: number,
    workspaces: Map<string, Workspace>,
    deviceCount?: number,
  ): Promise<{ planId: string; result: PlanResult; deploymentIds: string[] }> {
    // Canaries: devices connected now first, so that a round does not wait on one that is away.
    const inScope = await this.devicesInScope(result.policy);
    const devices =
      deviceCount === undefined
        ? inScope
        : [...inScope]
            .sort((a, b) => Number(this.agents.connected(b.id)) - Number(this.agents.connected(a.id)))
            .slice(0, deviceCount);
    const rungs = [
      { factor: 1, plan: result.solution as FeasiblePlan },
      ...(await ladder(rungProblem, LADDER_FACTORS)).slice(1).map((r) => ({
        factor: r.factor,
        plan: r.solution as FeasiblePlan,
      })),
    ];
    const built = new Map<string, BuiltRung[]>();
    const heldOut: Record<string, number> = {};
    for (const { version, calibration } of result.models) {
      const w = await this.workspace(version, workspaces);
      const list: BuiltRung[] = [];
      for (const rung of rungs) {
        const choices = rung.plan.choices[version.model];
        const file = encodeModel(
          withProvenance(await applyPlan(w.model, choices, w.context), version, choices),
        );
        const sha256 = createHash('sha256').update(file).digest('hex');
        if (list.some((r) => r.sha256 === sha256)) continue; // a tighter bound that changed nothing
        const storagePath = join('artifacts', `${sha256}.onnx`);
        mkdirSync(join(this.dataDir, 'artifacts'), { recursive: true });
        writeFileAtomic(join(this.dataDir, storagePath), file, 0o600);
        list.push({ sha256, bytes: file.length, factor: rung.factor, choices, storagePath });
        if (rung.factor === 1) {
          heldOut[version.model] = (await top1(file, w.data.heldOut, version.inputName)).accuracy;
        }
      }
      this.log.info(
        {
          model: version.model,
          choices: rungs[0].plan.choices[version.model],
          rungs: list.map((r) => r.bytes),
          heldOutAccuracy: heldOut[version.model],
          calibration,
        },
        'artifacts built',
      );
      built.set(version.model, list);
    }
    trimToStorage(built, result.policy.storageBoundBytes);

    const plan = rungs[0].plan;
    const predicted: PredictedFigures = {
      models: Object.fromEntries(
        result.models.map((m) => [
          m.version.model,
          {
            ...plan.perModel[m.version.model],
            accuracy: m.accuracy - plan.perModel[m.version.model].loss / 100,
            costModel: rawFigures(m.costModel, plan.choices[m.version.model] ?? {}),
          },
        ]),
      ),
      totals: plan.totals,
      corrections,
    };
    const planId = await savePlan(this.db.prisma, {
      policyId: result.policy.id,
      deviceClassId: result.policy.deviceClassId,
      round,
      method: plan.method,
      choices: plan.choices,
      predicted,
      measured: { heldOutAccuracy: heldOut },
      ladder: Object.fromEntries(
        [...built].map(([model, list]) => [model, list.map(({ storagePath: _, ...r }) => r)]),
      ),
      artifacts: result.models.flatMap((m) =>
        built.get(m.version.model)!.map((r, step) => ({
          sha256: r.sha256,
          bytes: r.bytes,
          storagePath: r.storagePath,
          modelVersionId: m.version.id,
          ladderStep: step,
        })),
      ),
    });
    const shares = modelShares(result.policy, predicted.models, built);
    const deploymentIds = await this.queue(result.policy, devices, planId, built, shares);
    return { planId, result, deploymentIds };
  }

  /** Deploys again the newest earlier plan that was active everywhere. @throws PreconditionError */
  async rollback(scope: PolicyScope): Promise<{ planId: string; deploymentIds: string[] }> {
    const policy = await getPolicy(this.db.prisma, scope);
    const current = (await listDeployments(this.db.prisma, { policyId: policy.id }))[0]?.planId;
    const earlier = (await activePlans(this.db.prisma, policy.id)).find((id) => id !== current);
    if (!earlier)
      throw new PreconditionError('no earlier plan of this policy was active on every device it went to');
    const devices = await this.devicesInScope(policy);
    return { planId: earlier, deploymentIds: await this.redeploy(policy, earlier, devices) };
  }

  /**
   * Deploys a stored plan of the policy again, to `devices`, each model's share of the joint bounds
   * in proportion to `basis` (default: the plan's predictions); returns the new deployments' ids.
   */
  async redeploy(
    policy: PolicyRecord,
    planId: string,
    devices: readonly { readonly id: string }[],
    basis?: Readonly<Record<string, ShareBasis>>,
  ) {
    const stored = await planById(this.db.prisma, planId);
    const built = new Map(Object.entries(stored.ladder));
    const shares = modelShares(policy, basis ?? (stored.predicted as PredictedFigures).models, built);
    return this.queue(policy, devices, planId, built, shares);
  }

  /** The devices a policy applies to. @throws PreconditionError when none is enrolled */
  private async devicesInScope(policy: PolicyRecord): Promise<DeviceSummary[]> {
    const devices = await devicesInScope(this.db, policy);
    if (devices.length === 0) throw new PreconditionError("no device is enrolled in the policy's scope");
    return devices;
  }

  /** One deployment and one job per (device, model), handed to open job streams. */
  private async queue(
    policy: PolicyRecord,
    devices: readonly { readonly id: string }[],
    planId: string,
    built: ReadonlyMap<string, readonly LadderArtifact[]>,
    shares: ReadonlyMap<string, ModelShare>,
  ): Promise<string[]> {
    const entries = devices.flatMap((d) => [...built.keys()].map((model) => ({ deviceId: d.id, model })));
    const jobs: { deviceId: string; job: WatchJobsResponse }[] = [];
    // Each deployment and its job are stored together: a planner killed in between leaves neither.
    const ids = await createDeployments(this.db.prisma, planId, entries, (id, { deviceId, model }) => {
      const share = shares.get(model) ?? {};
      const job: WatchJobsResponse = {
        jobId: id,
        profile: undefined,
        deploy: {
          deploymentId: id,
          model,
          ladder: built.get(model)!.map((r) => ({ sha256: r.sha256, bytes: r.bytes })),
          bounds: {
            latencyMs: share.latencyMs ?? 0,
            latencyPercentile: policy.latencyPercentile,
            memoryBytes: Math.floor(share.memoryBytes ?? 0),
            storageBytes: Math.floor(share.storageBytes ?? 0),
          },
        },
      };
      jobs.push({ deviceId, job });
      return WatchJobsResponse.encode(job).finish();
    });
    for (const { deviceId, job } of jobs) this.agents.notify(deviceId, job);
    this.log.info({ planId, deployments: ids.length }, 'deployments queued');
    return ids;
  }
}

/**
 * Drops the tightest rungs (never rung 0) while every model's ladder together exceeds the storage
 * bound: a device stores its whole ladder.
 */
function trimToStorage(built: Map<string, BuiltRung[]>, bound: number | undefined): void {
  if (bound === undefined) return;
  const total = () => [...built.values()].flat().reduce((n, r) => n + r.bytes, 0);
  while (total() > bound) {
    const longest = [...built.values()].sort((a, b) => b.length - a.length)[0];
    if (longest.length <= 1) return;
    longest.pop();
  }
}

/**
 * Each model's part of the policy's bounds, for its devices to verify one model at a time: its own
 * latency bound or its predicted share of the round's, its predicted share of memory, and its
 * ladder's share of storage.
 */
function modelShares(
  policy: PolicyRecord,
  perModel: Readonly<Record<string, ShareBasis>>,
  built: ReadonlyMap<string, readonly LadderArtifact[]>,
): Map<string, ModelShare> {
  const models = policy.models.map((m) => m.model);
  const sum = (f: (m: string) => number) => models.reduce((n, m) => n + f(m), 0);
  const latency = sum((m) => perModel[m].latencyMs);
  const memory = sum((m) => perModel[m].memoryBytes);
  const ladderBytes = (m: string) => (built.get(m) ?? []).reduce((n, r) => n + r.bytes, 0);
  const storage = sum(ladderBytes);
  const shares = new Map<string, ModelShare>();
  for (const entry of policy.models) {
    const m = entry.model;
    const fromTotal =
      policy.totalLatencyBoundMs === undefined
        ? undefined
        : (policy.totalLatencyBoundMs * perModel[m].latencyMs) / latency;
    const latencies = [entry.latencyBoundMs, fromTotal].filter((v): v is number => v !== undefined);
    shares.set(m, {
      latencyMs: latencies.length > 0 ? Math.min(...latencies) : undefined,
      memoryBytes:
        policy.memoryBoundBytes === undefined
          ? undefined
          : (policy.memoryBoundBytes * perModel[m].memoryBytes) / memory,
      storageBytes:
        policy.storageBoundBytes === undefined
          ? undefined
          : (policy.storageBoundBytes * ladderBytes(m)) / storage,
    });
  }
  return shares;
}
