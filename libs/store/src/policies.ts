import { InvalidArgumentError, LATENCY_PERCENTILES, NotFoundError } from '@blinknet/core';
import { type Prisma, type PrismaClient } from './generated/prisma/client';

/** Whom a policy applies to: every device of a class, or one device. */
export type PolicyScope = { readonly deviceClass: string } | { readonly deviceId: string };

export interface PolicyInput {
  readonly scope: PolicyScope;
  /** The models that share the device, in the order they run; each may have its own latency bound. */
  readonly models: readonly { readonly model: string; readonly latencyBoundMs?: number }[];
  readonly totalLatencyBoundMs?: number;
  /** 50, 95 or 99. */
  readonly latencyPercentile: number;
  readonly memoryBoundBytes?: number;
  readonly storageBoundBytes?: number;
  /** Lowest acceptable accuracy (0..1] of every model. */
  readonly accuracyFloor?: number;
  /** Plan for margin x every latency bound, in (0, 1]. */
  readonly latencyMargin: number;
}

export interface PolicyRecord extends PolicyInput {
  readonly id: string;
  /** The class whose measurements the policy is planned on (the device's class for a device policy). */
  readonly deviceClassId: string;
  readonly updatedAt: Date;
}

function positive(value: number | undefined, field: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(field, `must be a number > 0, got ${value}`);
  }
}

/** Checks what the database cannot. @throws InvalidArgumentError naming the field */
function validate(input: PolicyInput): void {
  if (input.models.length === 0) throw new InvalidArgumentError('models', 'name at least one model');
  const names = input.models.map((m) => m.model);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new InvalidArgumentError('models', `'${twice}' is listed twice`);
  input.models.forEach((m) => positive(m.latencyBoundMs, `models.${m.model}.latency_ms`));
  positive(input.totalLatencyBoundMs, 'total_latency_ms');
  positive(input.memoryBoundBytes, 'memory_bytes');
  positive(input.storageBoundBytes, 'storage_bytes');
  if (!LATENCY_PERCENTILES.includes(input.latencyPercentile)) {
    throw new InvalidArgumentError(
      'latency_percentile',
      `must be 50, 95 or 99, got ${input.latencyPercentile}`,
    );
  }
  const floor = input.accuracyFloor;
  if (floor !== undefined && !(floor > 0 && floor <= 1)) {
    throw new InvalidArgumentError('accuracy_floor', `must be in (0, 1], got ${floor}`);
  }
  if (!(input.latencyMargin > 0 && input.latencyMargin <= 1)) {
    throw new InvalidArgumentError('latency_margin', `must be in (0, 1], got ${input.latencyMargin}`);
  }
  const bounded =
    input.totalLatencyBoundMs ??
    input.memoryBoundBytes ??
    input.storageBoundBytes ??
    input.models.find((m) => m.latencyBoundMs !== undefined);
  if (bounded === undefined) throw new InvalidArgumentError('policy', 'set at least one bound');
}

/** The scope's `where` and the class it plans on. @throws NotFoundError for an unknown class or device */
async function resolveScope(
  prisma: Prisma.TransactionClient | PrismaClient,
  scope: PolicyScope,
): Promise<{ where: Prisma.PolicyWhereUniqueInput; deviceClassId: string; scopeIds: object }> {
  if ('deviceClass' in scope) {
    const cls = await prisma.deviceClass.findUnique({ where: { name: scope.deviceClass } });
    if (!cls)
      throw new NotFoundError('device class', `no device class '${scope.deviceClass}' (none registered)`);
    return { where: { deviceClassId: cls.id }, deviceClassId: cls.id, scopeIds: { deviceClassId: cls.id } };
  }
  const device = await prisma.device.findUnique({ where: { id: scope.deviceId } });
  if (!device) throw new NotFoundError('device', `no device with id '${scope.deviceId}'`);
  return {
    where: { deviceId: device.id },
    deviceClassId: device.deviceClassId,
    scopeIds: { deviceId: device.id },
  };
}

const withModels = {
  models: { include: { model: { select: { name: true } } }, orderBy: { position: 'asc' } },
  deviceClass: { select: { name: true } },
  device: { select: { id: true, deviceClassId: true } },
} satisfies Prisma.PolicyInclude;

function record(p: Prisma.PolicyGetPayload<{ include: typeof withModels }>): PolicyRecord {
  const num = (v: bigint | null) => (v === null ? undefined : Number(v));
  return {
    id: p.id,
    scope: p.deviceClass ? { deviceClass: p.deviceClass.name } : { deviceId: p.device!.id },
    deviceClassId: p.deviceClassId ?? p.device!.deviceClassId,
    models: p.models.map((m) => ({ model: m.model.name, latencyBoundMs: m.latencyBoundMs ?? undefined })),
    totalLatencyBoundMs: p.totalLatencyBoundMs ?? undefined,
    latencyPercentile: p.latencyPercentile,
    memoryBoundBytes: num(p.memoryBoundBytes),
    storageBoundBytes: num(p.storageBoundBytes),
    accuracyFloor: p.accuracyFloor ?? undefined,
    latencyMargin: p.latencyMargin,
    updatedAt: p.updatedAt,
  };
}

/**
 * Creates or replaces the policy of a class or device, all or nothing.
 * @throws InvalidArgumentError for a bad bound; NotFoundError for an unknown class, device or model
 */
export async function setPolicy(prisma: PrismaClient, input: PolicyInput): Promise<PolicyRecord> {
  validate(input);
  return prisma.$transaction(async (tx) => {
    const { where, scopeIds } = await resolveScope(tx, input.scope);
    const models = [];
    for (const m of input.models) {
      const model = await tx.model.findUnique({ where: { name: m.model } });
      if (!model) throw new NotFoundError('model', `no model named '${m.model}' was uploaded`);
      models.push({ modelId: model.id, latencyBoundMs: m.latencyBoundMs ?? null });
    }
    const bounds = {
      totalLatencyBoundMs: input.totalLatencyBoundMs ?? null,
      latencyPercentile: input.latencyPercentile,
      memoryBoundBytes: input.memoryBoundBytes === undefined ? null : BigInt(input.memoryBoundBytes),
      storageBoundBytes: input.storageBoundBytes === undefined ? null : BigInt(input.storageBoundBytes),
      accuracyFloor: input.accuracyFloor ?? null,
      latencyMargin: input.latencyMargin,
    };
    const existing = await tx.policy.findUnique({ where });
    if (existing) await tx.policyModel.deleteMany({ where: { policyId: existing.id } });
    const created = models.map((m, position) => ({ ...m, position }));
    const policy = existing
      ? await tx.policy.update({
          where: { id: existing.id },
          data: { ...bounds, models: { create: created } },
          include: withModels,
        })
      : await tx.policy.create({
          data: { ...scopeIds, ...bounds, models: { create: created } },
          include: withModels,
        });
    return record(policy);
  });
}

/** The policy of a class or device. @throws NotFoundError when there is none */
export async function getPolicy(prisma: PrismaClient, scope: PolicyScope): Promise<PolicyRecord> {
  const { where } = await resolveScope(prisma, scope);
  const policy = await prisma.policy.findUnique({ where, include: withModels });
  if (!policy) throw new NotFoundError('policy', `no policy for ${describeScope(scope)}`);
  return record(policy);
}

/** Deletes the policy of a class or device. @throws NotFoundError when there is none */
export async function deletePolicy(prisma: PrismaClient, scope: PolicyScope): Promise<void> {
  const { where } = await resolveScope(prisma, scope);
  const { count } = await prisma.policy.deleteMany({ where: where as Prisma.PolicyWhereInput });
  if (count === 0) throw new NotFoundError('policy', `no policy for ${describeScope(scope)}`);
}

export function describeScope(scope: PolicyScope): string {
  return 'deviceClass' in scope ? `device class '${scope.deviceClass}'` : `device '${scope.deviceId}'`;
}

/** Every policy, oldest first. */
export async function listPolicies(prisma: PrismaClient): Promise<PolicyRecord[]> {
  return (await prisma.policy.findMany({ include: withModels, orderBy: { createdAt: 'asc' } })).map(record);
}
