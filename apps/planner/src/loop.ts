/**
 * The closed loop: a bound is met when its devices measure it. For every policy, in turn:
 * 1. until its class has figures for every model (profiling is queued) and the accuracy models are
 *    ready, wait;
 * 2. solve, build and deploy (round 1) — or record that no plan meets the bounds;
 * 3. when every deployment of the round has an outcome: all active -> converged; when each device's
 *    models together met the bounds but one missed its share of a joint bound, the same plan again
 *    with shares as measured (once); otherwise re-solve on the class's cost model calibrated with
 *    what the devices measured (calibration.ts), planning for 5% less latency than the round
 *    before, and deploy round k+1 — or record that no plan meets the bounds now — up to
 *    `maxRounds`; past it the policy ends `failed` with the measured figures. Meanwhile each device
 *    keeps (or rolled back to) its last release that met its bounds.
 * 4. with canaries (`canaryDevices`), a round goes to that many devices of the scope first; once it
 *    met the bounds there, the rest get it before the loop says converged (and step 3 again), as
 *    do devices that join later.
 * A changed policy starts again at round 1. State lives in the database only: a restarted planner
 * goes on where it stopped.
 */
import { type Logger } from 'pino';
import { PreconditionError, toError } from '@blinknet/core';
import { type TightestFigures } from '@blinknet/planner-core';
import {
  type DeviceSummary,
  listDeployments,
  listPolicies,
  type OpenedDatabase,
  plansOfPolicy,
  type PolicyRecord,
  recordPlanMeasured,
  runtimeEvents,
  savePlan,
} from '@blinknet/store';
import { type AgentServiceImpl } from './agent-service';
import { type Deployer, InfeasiblePlanError } from './deploy';
import { type Corrections, type PredictedFigures } from './planning';
import { devicesInScope, queueProfiling } from './profiling';
import { closestMeasured, jointlyMet, measuredFigures, tightestDetail, underPressure } from './rounds';

export interface LoopSettings {
  /** Deployment rounds before a policy ends failed. @default 3 */
  readonly maxRounds?: number;
  /** Devices each round goes to first; the rest get the plan once it converged there. @default 0 (all) */
  readonly canaryDevices?: number;
  /** How often policies are reconciled. @default 1000 */
  readonly intervalMs?: number;
  /**
   * A converged plan is planned again once a device has been stepped down (or over a bound at its
   * last ladder step) this long without stepping back up. @default 60000
   */
  readonly replanAfterMs?: number;
}

/** Each round after the first plans for this fraction of the previous round's latency bounds. */
export const LATENCY_HEADROOM = 0.95;
const TERMINAL = new Set(['active', 'failed', 'rolled-back']);
const LOST = new Set(['failed', 'rolled-back']);

export type LoopOutcome = 'converged' | 'failed' | 'infeasible';

export class ClosedLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly maxRounds: number;

  constructor(
    private readonly db: OpenedDatabase,
    private readonly deployer: Deployer,
    private readonly agents: AgentServiceImpl,
    private readonly log: Logger,
    private readonly settings: LoopSettings = {},
  ) {
    this.maxRounds = settings.maxRounds ?? 3;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.settings.intervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every policy (never two at once). */
  async tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      for (const policy of await listPolicies(this.db.prisma)) {
        try {
          await this.reconcile(policy);
        } catch (error) {
          this.log.error({ policy: policy.id, err: toError(error).message }, 'closed loop step failed');
        }
      }
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async reconcile(policy: PolicyRecord): Promise<void> {
    const [latest] = await plansOfPolicy(this.db.prisma, policy.id);
    if (!latest || latest.createdAt < policy.updatedAt) return this.deployRound(policy, 1, {});
    if (latest.measured.outcome === 'converged') {
      const devices = await devicesInScope(this.db, policy);
      if (await this.replanUnderPressure(policy, latest, devices)) return;
      await this.deployToNewDevices(policy, latest.id, devices);
    }
    if (latest.measured.outcome) return; // this policy's loop has ended (or goes on next time)
    if (latest.states.length === 0 || latest.states.some((s) => !TERMINAL.has(s))) return;
    // The newest deployment per device and model: a plan may have been deployed again.
    const deployments = await listDeployments(this.db.prisma, { planId: latest.id, latest: true });
    const predicted = latest.predicted as PredictedFigures;
    const figures = deployments.map((d) => ({
      device: d.deviceName,
      model: d.model,
      state: d.state,
      predictedLatencyMs: predicted.models[d.model]?.latencyMs,
      measuredLatencyMs: d.measured.latencyMs,
      predictedMemoryBytes: predicted.models[d.model]?.memoryBytes,
      measuredMemoryBytes: d.measured.residentBytes,
      violations: d.violations,
    }));
    if (deployments.every((d) => d.state === 'active')) {
      // Met on the canaries: the rest of the scope gets the plan before the loop says converged.
      if (await this.deployToNewDevices(policy, latest.id, await devicesInScope(this.db, policy))) return;
      await this.finish(latest.id, 'converged', { devices: figures });
      return;
    }
    if (!latest.measured.reshared && jointlyMet(policy, deployments)) {
      // Every device met the policy's bounds with its models together, but a model missed its
      // share of a joint bound (shares follow the predictions): the same plan again, its shares
      // in the proportions the devices measured. Once.
      const basis = measuredFigures(deployments);
      const devices = [...new Set(deployments.map((d) => d.deviceId))].map((id) => ({ id }));
      await recordPlanMeasured(this.db.prisma, latest.id, { devices: figures, reshared: true });
      await this.deployer.redeploy(policy, latest.id, devices, basis);
      this.log.info(
        { policy: policy.id, planId: latest.id, basis },
        'closed loop: plan deployed again, shares as measured',
      );
      return;
    }
    if (latest.round >= this.maxRounds) {
      await this.finish(latest.id, 'failed', { devices: figures });
      return;
    }
    // The next round's predictions start from what the devices measured (see planning's
    // Calibration), and it plans with more headroom on latency.
    await recordPlanMeasured(this.db.prisma, latest.id, { devices: figures });
    await this.deployRound(policy, latest.round + 1, predicted.corrections);
  }

  /**
   * Devices of the policy's scope without the plan get it: those that waited for the canaries, those
   * that joined since, and those that lost it after it converged (a device that found its files
   * damaged at a restart rolled back); the loop then goes on as for any round (a device that cannot
   * meet the bounds starts the next). Whether any did.
   */
  private async deployToNewDevices(
    policy: PolicyRecord,
    planId: string,
    devices: readonly DeviceSummary[],
  ): Promise<boolean> {
    const deployments = await listDeployments(this.db.prisma, { planId, latest: true });
    const lost = new Set(deployments.filter((d) => LOST.has(d.state)).map((d) => d.deviceId));
    const served = new Set(deployments.map((d) => d.deviceId).filter((id) => !lost.has(id)));
    // Only devices connected now: one that is away gets it when it is back (the next pass).
    const joined = devices.filter((d) => !served.has(d.id) && this.agents.connected(d.id));
    if (joined.length === 0) return false;
    const deploymentIds = await this.deployer.redeploy(policy, planId, joined);
    await recordPlanMeasured(this.db.prisma, planId, { outcome: undefined });
    this.log.info(
      { policy: policy.id, planId, devices: joined.map((d) => d.name), deployments: deploymentIds.length },
      'closed loop: plan deployed to the rest of the scope',
    );
    return true;
  }

  /**
   * Plans the next round when a device of the scope has been under pressure since some time after
   * the plan converged (more load than it was verified under): the round's verification measures the
   * device as it is now, and the calibration learns from it.
   */
  private async replanUnderPressure(
    policy: PolicyRecord,
    plan: { id: string; round: number; createdAt: Date; predicted: unknown },
    devices: readonly DeviceSummary[],
  ): Promise<boolean> {
    const models = policy.models.map((m) => m.model);
    const events = await runtimeEvents(
      this.db.prisma,
      devices.map((d) => d.id),
      models,
      plan.createdAt,
    );
    const pressed = underPressure(events, Date.now(), this.settings.replanAfterMs ?? 60_000);
    if (pressed.length === 0) return false;
    await recordPlanMeasured(this.db.prisma, plan.id, { replannedFor: pressed });
    this.log.info(
      { policy: policy.id, planId: plan.id, pressed },
      'closed loop: planning again, a device has been stepping down its ladder',
    );
    await this.deployRound(policy, plan.round + 1, (plan.predicted as PredictedFigures).corrections ?? {});
    return true;
  }

  private async deployRound(policy: PolicyRecord, round: number, corrections: Corrections): Promise<void> {
    const log = this.log.child({ policy: policy.id, round });
    try {
      const latencyHeadroom = LATENCY_HEADROOM ** (round - 1);
      const { planId, deploymentIds } = await this.deployer.deploy(policy.scope, {
        round,
        corrections,
        latencyHeadroom,
        devices: this.settings.canaryDevices || undefined,
      });
      log.info({ planId, deployments: deploymentIds.length, latencyHeadroom }, 'closed loop: round deployed');
    } catch (error) {
      if (error instanceof InfeasiblePlanError) {
        // Recorded as a plan with no artifacts, so that the loop waits for the policy to change.
        const solution = error.result.solution;
        const planId = await savePlan(this.db.prisma, {
          policyId: policy.id,
          deviceClassId: policy.deviceClassId,
          round,
          method: solution.method,
          choices: {},
          predicted: {
            unreachable: error.unreachable,
            tightest: solution.feasible ? undefined : solution.tightest,
          },
          ladder: {},
          artifacts: [],
        });
        await this.finish(planId, 'infeasible', { unreachable: error.unreachable, corrections });
        log.warn({ unreachable: error.unreachable }, 'closed loop: no plan meets the bounds');
      } else if (error instanceof PreconditionError) {
        // Not profiled yet, or the accuracy models are still being computed: make sure work is queued.
        await queueProfiling(this.db, this.agents, policy);
        log.debug({ why: error.message }, 'closed loop: waiting');
      } else throw error;
    }
  }

  private async finish(
    planId: string,
    outcome: LoopOutcome,
    figures: Record<string, unknown>,
  ): Promise<void> {
    await recordPlanMeasured(this.db.prisma, planId, { ...figures, outcome });
    this.log.info({ planId, outcome }, `closed loop: ${outcome}`);
  }
}

/** Where the loop stands for a policy, from what is stored. */
export async function loopState(
  db: OpenedDatabase,
  policy: PolicyRecord,
): Promise<{ state: string; round: number; planId: string; unreachable: string[]; detail: string }> {
  const plans = await plansOfPolicy(db.prisma, policy.id);
  const [latest] = plans;
  if (!latest || latest.createdAt < policy.updatedAt) {
    return {
      state: 'waiting',
      round: 0,
      planId: '',
      unreachable: [],
      detail: 'for profiles and accuracy models',
    };
  }
  const outcome = latest.measured.outcome as LoopOutcome | undefined;
  const unreachable = (latest.measured.unreachable as string[] | undefined) ?? [];
  const pending = latest.states.filter((s) => !TERMINAL.has(s)).length;
  return {
    state: outcome ?? 'deploying',
    round: latest.round,
    planId: latest.id,
    unreachable,
    detail:
      outcome === 'failed'
        ? closestMeasured(plans.filter((p) => p.createdAt >= policy.updatedAt))
        : outcome === 'infeasible'
          ? tightestDetail((latest.predicted as { tightest?: TightestFigures }).tightest)
          : outcome
            ? ''
            : `${pending} of ${latest.states.length} deployments in flight`,
  };
}
