import { latencyAt, NotFoundError } from '@blinknet/core';
import { type Prisma, type PrismaClient } from './generated/prisma/client';
import { type DeploymentState } from './reports';

/** One rung of a model's ladder in a plan: the artifact and the choices it was built from. */
export interface LadderArtifact {
  readonly sha256: string;
  readonly bytes: number;
  /** Latency bounds scaled by this factor produced the rung (1 = the plan itself). */
  readonly factor: number;
  /** layer -> option. */
  readonly choices: Readonly<Record<string, string>>;
}

export interface PlanInput {
  readonly policyId: string;
  readonly deviceClassId: string;
  readonly round: number;
  readonly method: string;
  /** model -> layer -> option (rung 0). */
  readonly choices: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Figures per model and in total, as predicted; JSON-serialisable. */
  readonly predicted: unknown;
  /** Figures measured by the planner itself (held-out accuracy of the artifacts). */
  readonly measured?: unknown;
  /** model -> its ladder, rung 0 first. */
  readonly ladder: Readonly<Record<string, readonly LadderArtifact[]>>;
  /** Every artifact file of the ladder: where it is kept and which version it approximates. */
  readonly artifacts: readonly {
    readonly sha256: string;
    readonly bytes: number;
    readonly storagePath: string;
    readonly modelVersionId: string;
    readonly ladderStep: number;
  }[];
}

/**
 * Stores a plan with its ladder and artifacts, all or nothing. An artifact built before (same
 * bytes, e.g. a plan deployed again) keeps its row.
 */
export async function savePlan(prisma: PrismaClient, input: PlanInput): Promise<string> {
  return prisma.$transaction(async (tx) => {
    const plan = await tx.plan.create({
      data: {
        policyId: input.policyId,
        deviceClassId: input.deviceClassId,
        round: input.round,
        method: input.method,
        choicesJson: JSON.stringify(input.choices),
        predictedJson: JSON.stringify(input.predicted),
        measuredJson: input.measured === undefined ? null : JSON.stringify(input.measured),
        ladderJson: JSON.stringify(input.ladder),
      },
    });
    for (const a of input.artifacts) {
      if (await tx.artifact.findUnique({ where: { sha256: a.sha256 }, select: { id: true } })) continue;
      await tx.artifact.create({ data: { ...a, bytes: BigInt(a.bytes), planId: plan.id } });
    }
    return plan.id;
  });
}

/**
 * Creates one pending deployment per (device, model) of a plan, each with its deploy job (id = the
 * deployment's, payload from `job`), all or nothing; returns their ids in order.
 */
export async function createDeployments(
  prisma: PrismaClient,
  planId: string,
  entries: readonly { readonly deviceId: string; readonly model: string }[],
  job: (deploymentId: string, entry: { readonly deviceId: string; readonly model: string }) => Uint8Array,
): Promise<string[]> {
  return prisma.$transaction(async (tx) => {
    const ids: string[] = [];
    for (const e of entries) {
      const { id } = await tx.deployment.create({ data: { planId, deviceId: e.deviceId, model: e.model } });
      await tx.job.create({
        data: { id, deviceId: e.deviceId, kind: 'deploy', payload: Buffer.from(job(id, e)) },
      });
      ids.push(id);
    }
    return ids;
  });
}

/** A deployment with what its plan predicted and what its device measured. */
export interface DeploymentRecord {
  readonly id: string;
  readonly planId: string;
  readonly round: number;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly deviceClass: string;
  readonly model: string;
  readonly state: DeploymentState;
  readonly detail?: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly plan: {
    readonly predicted: unknown;
    readonly measured: unknown;
    readonly ladder: Readonly<Record<string, readonly LadderArtifact[]>>;
  };
  /** The device's verification figures for this deployment, if reported. */
  readonly measured: {
    /** Latency at the policy's percentile (p50, p95 or p99). */
    readonly latencyMs?: number;
    readonly residentBytes?: number;
    readonly artifactBytes?: number;
  };
  /** Bounds the device reported violated while verifying. */
  readonly violations: readonly string[];
}

const withContext = {
  device: { select: { name: true, deviceClass: { select: { name: true } } } },
  plan: {
    select: {
      round: true,
      predictedJson: true,
      measuredJson: true,
      ladderJson: true,
      policyId: true,
      policy: { select: { latencyPercentile: true } },
    },
  },
} satisfies Prisma.DeploymentInclude;

/**
 * Deployments, newest first: of one plan, one policy, or everything (`latest` keeps only the
 * newest per device and model).
 */
export async function listDeployments(
  prisma: PrismaClient,
  filter: { readonly planId?: string; readonly policyId?: string; readonly latest?: boolean } = {},
): Promise<DeploymentRecord[]> {
  const rows = await prisma.deployment.findMany({
    where: { planId: filter.planId, plan: filter.policyId ? { policyId: filter.policyId } : undefined },
    include: withContext,
    orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
  });
  const seen = new Set<string>();
  const kept = filter.latest
    ? rows.filter((r) => {
        const key = `${r.deviceId}\0${r.model}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
    : rows;
  const ids = kept.map((r) => r.id);
  const [figures, events] = await Promise.all([
    prisma.measurement.findMany({ where: { jobId: { in: ids } }, orderBy: { measuredAt: 'asc' } }),
    prisma.event.findMany({
      where: { deploymentId: { in: ids }, kind: 'bound-violated' },
      orderBy: { at: 'asc' },
    }),
  ]);
  return kept.map((r) => {
    const own = figures.filter((m) => m.jobId === r.id);
    const latency = own.filter((m) => m.kind === 'model-latency').at(-1);
    const memory = own.filter((m) => m.kind === 'model-memory').at(-1);
    return {
      id: r.id,
      planId: r.planId,
      round: r.plan.round,
      deviceId: r.deviceId,
      deviceName: r.device.name,
      deviceClass: r.device.deviceClass.name,
      model: r.model,
      state: r.state as DeploymentState,
      detail: r.detail ?? undefined,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      plan: {
        predicted: JSON.parse(r.plan.predictedJson) as unknown,
        measured: r.plan.measuredJson ? (JSON.parse(r.plan.measuredJson) as unknown) : undefined,
        ladder: JSON.parse(r.plan.ladderJson) as Record<string, LadderArtifact[]>,
      },
      measured: {
        latencyMs: (latency && latencyAt(latency, r.plan.policy.latencyPercentile)) ?? undefined,
        residentBytes: memory?.residentBytes === null || !memory ? undefined : Number(memory.residentBytes),
        artifactBytes: memory?.artifactBytes === null || !memory ? undefined : Number(memory.artifactBytes),
      },
      violations: events.filter((e) => e.deploymentId === r.id).map((e) => e.detail),
    };
  });
}

/**
 * The newest `limit` plans of a device class whose artifact of `modelVersionId` a device of the
 * class measured while verifying a deployment, newest first.
 */
export async function newestMeasuredPlans(
  prisma: PrismaClient,
  deviceClassId: string,
  modelVersionId: string,
  limit: number,
): Promise<string[]> {
  const plans: string[] = [];
  const seenJobs = new Set<string>();
  // Each deployment reports one latency figure per verification: a few rows per plan.
  for (let skip = 0; plans.length < limit; skip += 50) {
    const rows = await prisma.measurement.findMany({
      where: {
        deviceClassId,
        modelVersionId,
        kind: 'model-latency',
        artifactId: { not: null },
        jobId: { not: null },
      },
      orderBy: { measuredAt: 'desc' },
      select: { jobId: true },
      skip,
      take: 50,
    });
    const jobs = [...new Set(rows.map((r) => r.jobId!))].filter((j) => !seenJobs.has(j));
    jobs.forEach((j) => seenJobs.add(j));
    const deployments = await prisma.deployment.findMany({
      where: { id: { in: jobs } },
      select: { id: true, planId: true },
    });
    const planOf = new Map(deployments.map((d) => [d.id, d.planId]));
    for (const job of jobs) {
      const plan = planOf.get(job);
      if (plan && !plans.includes(plan) && plans.length < limit) plans.push(plan);
    }
    if (rows.length < 50) break;
  }
  return plans;
}

/** The plans of a policy that reached `active` on every device they were deployed to, newest first. */
export async function activePlans(prisma: PrismaClient, policyId: string): Promise<string[]> {
  const plans = await prisma.plan.findMany({
    where: { policyId, deployments: { some: {} } },
    include: { deployments: { select: { state: true } } },
    orderBy: { createdAt: 'desc' },
  });
  return plans.filter((p) => p.deployments.every((d) => d.state === 'active')).map((p) => p.id);
}

/** A stored plan: its ladder and its predicted figures. @throws NotFoundError */
export async function planById(prisma: PrismaClient, planId: string) {
  const plan = await prisma.plan.findUnique({ where: { id: planId } });
  if (!plan) throw new NotFoundError('plan', `no plan '${planId}'`);
  return {
    id: plan.id,
    round: plan.round,
    method: plan.method,
    predicted: JSON.parse(plan.predictedJson) as unknown,
    measured: plan.measuredJson ? (JSON.parse(plan.measuredJson) as unknown) : undefined,
    ladder: JSON.parse(plan.ladderJson) as Record<string, LadderArtifact[]>,
  };
}

/** A policy's plans, newest first, with what was predicted and measured. */
export async function plansOfPolicy(prisma: PrismaClient, policyId: string) {
  const plans = await prisma.plan.findMany({
    where: { policyId },
    orderBy: { createdAt: 'desc' },
    include: { deployments: { select: { state: true } } },
  });
  return plans.map((p) => ({
    id: p.id,
    round: p.round,
    method: p.method,
    createdAt: p.createdAt,
    predicted: JSON.parse(p.predictedJson) as unknown,
    measured: p.measuredJson ? (JSON.parse(p.measuredJson) as Record<string, unknown>) : {},
    states: p.deployments.map((d) => d.state as DeploymentState),
  }));
}

/** Merges `figures` into what is recorded as measured for a plan (e.g. the closed loop's outcome). */
export async function recordPlanMeasured(
  prisma: PrismaClient,
  planId: string,
  figures: Record<string, unknown>,
): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const plan = await tx.plan.findUnique({ where: { id: planId }, select: { measuredJson: true } });
    if (!plan) throw new NotFoundError('plan', `no plan '${planId}'`);
    const merged = { ...(plan.measuredJson ? JSON.parse(plan.measuredJson) : {}), ...figures };
    await tx.plan.update({ where: { id: planId }, data: { measuredJson: JSON.stringify(merged) } });
  });
}

/** What a device's runtime monitor reported outside any deployment (a ladder step or a bound it missed). */
export interface RuntimeEventRecord {
  readonly deviceId: string;
  readonly model: string;
  readonly kind: 'ladder-step-down' | 'ladder-step-up' | 'bound-violated';
  readonly detail: string;
  readonly at: Date;
}

/** The runtime events of `deviceIds` for `models` since `since`, oldest first. */
export async function runtimeEvents(
  prisma: PrismaClient,
  deviceIds: readonly string[],
  models: readonly string[],
  since: Date,
): Promise<RuntimeEventRecord[]> {
  const rows = await prisma.event.findMany({
    where: {
      deviceId: { in: [...deviceIds] },
      model: { in: [...models] },
      deploymentId: null,
      kind: { in: ['ladder-step-down', 'ladder-step-up', 'bound-violated'] },
      at: { gte: since },
    },
    orderBy: { at: 'asc' },
    select: { deviceId: true, model: true, kind: true, detail: true, at: true },
  });
  return rows as RuntimeEventRecord[];
}
