import { InvalidArgumentError } from '@blinknet/core';
import { type PrismaClient } from './generated/prisma/client';

export interface ModelVersionInput {
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly storagePath: string;
  readonly datasetId?: string;
  readonly inputName: string;
  readonly inputDims: readonly number[];
  /** The version's ladder: every (layer, option) offered, with exact costs. */
  readonly options: readonly {
    readonly layer: string;
    readonly option: string;
    readonly weightBytes: number;
    readonly flops: number;
  }[];
}

/**
 * Stores an uploaded model version with its ladder, all or nothing; idempotent by sha256 (a repeat
 * upload returns the stored version, `created` false).
 */
export async function saveModelVersion(
  prisma: PrismaClient,
  input: ModelVersionInput,
): Promise<{ readonly id: string; readonly created: boolean }> {
  if (!/^[0-9a-f]{64}$/.test(input.sha256)) throw new InvalidArgumentError('sha256', 'must be 64 hex digits');
  if (!input.name.trim()) throw new InvalidArgumentError('name', 'is empty');
  return prisma.$transaction(async (tx) => {
    const existing = await tx.modelVersion.findUnique({ where: { sha256: input.sha256 } });
    if (existing) return { id: existing.id, created: false };
    const model = await tx.model.upsert({
      where: { name: input.name },
      create: { name: input.name },
      update: {},
    });
    const version = await tx.modelVersion.create({
      data: {
        modelId: model.id,
        sha256: input.sha256,
        bytes: BigInt(input.bytes),
        storagePath: input.storagePath,
        datasetId: input.datasetId ?? null,
        inputName: input.inputName,
        inputDims: JSON.stringify(input.inputDims),
      },
    });
    await tx.layerOption.createMany({
      data: input.options.map((o) => ({
        modelVersionId: version.id,
        layer: o.layer,
        option: o.option,
        weightBytes: BigInt(o.weightBytes),
        flops: o.flops,
      })),
    });
    return { id: version.id, created: true };
  });
}
