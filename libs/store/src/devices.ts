import { type PrismaClient } from './generated/prisma/client';

export interface DeviceRecord {
  readonly id: string;
  readonly name: string;
  readonly deviceClassId: string;
}

/**
 * Enrols a device: creates its class if new, and the device, or gives an existing device (same class
 * and name) its new token hash — the old token stops working. Stores facts as JSON.
 */
export async function registerDevice(
  prisma: PrismaClient,
  input: {
    readonly deviceClass: string;
    readonly name: string;
    readonly facts: unknown;
    readonly tokenSha256: string;
  },
): Promise<DeviceRecord> {
  return prisma.$transaction(async (tx) => {
    const cls = await tx.deviceClass.upsert({
      where: { name: input.deviceClass },
      create: { name: input.deviceClass },
      update: {},
    });
    const factsJson = JSON.stringify(input.facts ?? {});
    return tx.device.upsert({
      where: { deviceClassId_name: { deviceClassId: cls.id, name: input.name } },
      create: { name: input.name, deviceClassId: cls.id, factsJson, tokenSha256: input.tokenSha256 },
      update: { factsJson, tokenSha256: input.tokenSha256, lastSeenAt: new Date() },
      select: { id: true, name: true, deviceClassId: true },
    });
  });
}

/** The device a token hash belongs to, if any. */
export async function deviceByTokenHash(
  prisma: PrismaClient,
  tokenSha256: string,
): Promise<DeviceRecord | undefined> {
  const device = await prisma.device.findUnique({
    where: { tokenSha256 },
    select: { id: true, name: true, deviceClassId: true },
  });
  return device ?? undefined;
}

/** Where the planner keeps the file with this sha256 (an uploaded model or a built artifact), if any. */
export async function fileBySha256(
  prisma: PrismaClient,
  sha256: string,
): Promise<{ readonly storagePath: string; readonly bytes: number } | undefined> {
  const found =
    (await prisma.modelVersion.findUnique({
      where: { sha256 },
      select: { storagePath: true, bytes: true },
    })) ??
    (await prisma.artifact.findUnique({ where: { sha256 }, select: { storagePath: true, bytes: true } }));
  return found ? { storagePath: found.storagePath, bytes: Number(found.bytes) } : undefined;
}

export interface DeviceClassSummary {
  readonly id: string;
  readonly name: string;
  readonly devices: number;
  readonly measurements: number;
  /** Model versions (model name, sha256) with measurements in the class. */
  readonly profiled: readonly { readonly model: string; readonly sha256: string }[];
  readonly hasPolicy: boolean;
}

/** Every device class with its devices, measurements and policy, by name. */
export async function listDeviceClasses(prisma: PrismaClient): Promise<DeviceClassSummary[]> {
  const classes = await prisma.deviceClass.findMany({
    orderBy: { name: 'asc' },
    include: {
      _count: { select: { devices: true, measurements: true } },
      policies: { select: { id: true } },
    },
  });
  const profiled = await prisma.measurement.groupBy({ by: ['deviceClassId', 'modelVersionId'] });
  const versions = new Map(
    (
      await prisma.modelVersion.findMany({
        where: { id: { in: [...new Set(profiled.map((p) => p.modelVersionId))] } },
        select: { id: true, sha256: true, model: { select: { name: true } } },
      })
    ).map((v) => [v.id, { model: v.model.name, sha256: v.sha256 }]),
  );
  return classes.map((c) => ({
    id: c.id,
    name: c.name,
    devices: c._count.devices,
    measurements: c._count.measurements,
    profiled: profiled.filter((p) => p.deviceClassId === c.id).map((p) => versions.get(p.modelVersionId)!),
    hasPolicy: c.policies.length > 0,
  }));
}

export interface DeviceSummary {
  readonly id: string;
  readonly name: string;
  readonly deviceClass: string;
  readonly deviceClassId: string;
  /** blinknet.v1.DeviceFacts as last reported, parsed. */
  readonly facts: Record<string, unknown>;
  readonly lastSeenAt: Date;
  readonly measurements: number;
  readonly pendingJobs: number;
}

/** The devices of one class (by name) or of all, by class then name. */
export async function listDevices(prisma: PrismaClient, deviceClass?: string): Promise<DeviceSummary[]> {
  const devices = await prisma.device.findMany({
    where: deviceClass ? { deviceClass: { name: deviceClass } } : {},
    orderBy: [{ deviceClass: { name: 'asc' } }, { name: 'asc' }],
    include: {
      deviceClass: { select: { name: true } },
      _count: { select: { measurements: true, jobs: { where: { state: 'pending' } } } },
    },
  });
  return devices.map((d) => ({
    id: d.id,
    name: d.name,
    deviceClass: d.deviceClass.name,
    deviceClassId: d.deviceClassId,
    facts: JSON.parse(d.factsJson) as Record<string, unknown>,
    lastSeenAt: d.lastSeenAt,
    measurements: d._count.measurements,
    pendingJobs: d._count.jobs,
  }));
}
