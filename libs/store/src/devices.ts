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
