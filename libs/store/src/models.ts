import { InvalidArgumentError, NotFoundError } from '@blinknet/core';
import { type Prisma, type PrismaClient } from './generated/prisma/client';

export interface ModelVersionInput {
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly storagePath: string;
  readonly datasetId?: string;
  readonly inputName: string;
  readonly inputDims: readonly number[];
  readonly activationPeakBytes: number;
  readonly otherWeightBytes: number;
  /** The version's ladder: every (layer, option) offered, with exact costs. */
  readonly options: readonly {
    readonly layer: string;
    readonly option: string;
    readonly weightBytes: number;
    readonly flops: number;
    readonly shrinks?: readonly string[];
  }[];
}

export const ACCURACY_STATES = ['pending', 'ready', 'failed'] as const;
export type AccuracyState = (typeof ACCURACY_STATES)[number];

/** A stored model version with its ladder, as the planner reads it back. */
export interface ModelVersionRecord {
  readonly id: string;
  readonly model: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly storagePath: string;
  readonly datasetId?: string;
  readonly inputName: string;
  readonly inputDims: readonly number[];
  readonly activationPeakBytes: number;
  readonly otherWeightBytes: number;
  readonly accuracyState: AccuracyState;
  readonly accuracyDetail?: string;
  readonly calibrationAccuracy?: number;
  readonly heldOutAccuracy?: number;
  readonly createdAt: Date;
  readonly options: readonly {
    readonly layer: string;
    readonly option: string;
    readonly weightBytes: number;
    readonly flops: number;
    readonly shrinks: readonly string[];
    /** On the calibration split, once measured. */
    readonly accuracy?: number;
    /** Why the option cannot be built for this version; the planner never offers it. */
    readonly unavailable?: string;
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
        activationPeakBytes: BigInt(input.activationPeakBytes),
        otherWeightBytes: BigInt(input.otherWeightBytes),
      },
    });
    await tx.layerOption.createMany({
      data: input.options.map((o) => ({
        modelVersionId: version.id,
        layer: o.layer,
        option: o.option,
        weightBytes: BigInt(o.weightBytes),
        flops: o.flops,
        shrinksJson: JSON.stringify(o.shrinks ?? []),
      })),
    });
    return { id: version.id, created: true };
  });
}

const withLadder = {
  model: { select: { name: true } },
  options: { orderBy: [{ layer: 'asc' }, { option: 'asc' }] },
} satisfies Prisma.ModelVersionInclude;

function record(v: Prisma.ModelVersionGetPayload<{ include: typeof withLadder }>): ModelVersionRecord {
  return {
    id: v.id,
    model: v.model.name,
    sha256: v.sha256,
    bytes: Number(v.bytes),
    storagePath: v.storagePath,
    datasetId: v.datasetId ?? undefined,
    inputName: v.inputName,
    inputDims: JSON.parse(v.inputDims) as number[],
    activationPeakBytes: Number(v.activationPeakBytes),
    otherWeightBytes: Number(v.otherWeightBytes),
    accuracyState: v.accuracyState as AccuracyState,
    accuracyDetail: v.accuracyDetail ?? undefined,
    calibrationAccuracy: v.calibrationAccuracy ?? undefined,
    heldOutAccuracy: v.heldOutAccuracy ?? undefined,
    createdAt: v.createdAt,
    options: v.options.map((o) => ({
      layer: o.layer,
      option: o.option,
      weightBytes: Number(o.weightBytes),
      flops: o.flops,
      shrinks: JSON.parse(o.shrinksJson) as string[],
      accuracy: o.accuracy ?? undefined,
      unavailable: o.unavailable ?? undefined,
    })),
  };
}

/** Every model version with its ladder, newest first within each model, models by name. */
export async function listModelVersions(
  prisma: PrismaClient,
  where: { readonly accuracyState?: AccuracyState } = {},
): Promise<ModelVersionRecord[]> {
  const versions = await prisma.modelVersion.findMany({
    where,
    include: withLadder,
    orderBy: [{ model: { name: 'asc' } }, { createdAt: 'desc' }],
  });
  return versions.map(record);
}

/** The version with this sha256, if any. */
export async function modelVersionBySha256(
  prisma: PrismaClient,
  sha256: string,
): Promise<ModelVersionRecord | undefined> {
  const version = await prisma.modelVersion.findUnique({ where: { sha256 }, include: withLadder });
  return version ? record(version) : undefined;
}

/** The newest version of a model. @throws NotFoundError naming the model */
export async function latestModelVersion(prisma: PrismaClient, name: string): Promise<ModelVersionRecord> {
  const version = await prisma.modelVersion.findFirst({
    where: { model: { name } },
    include: withLadder,
    orderBy: { createdAt: 'desc' },
  });
  if (!version) throw new NotFoundError('model', `no model named '${name}' was uploaded`);
  return record(version);
}

/**
 * Records what evaluating one ladder option found: its accuracy on the calibration split, or why it
 * cannot be built for this version (`unavailable`).
 */
export async function setOptionEvaluated(
  prisma: PrismaClient,
  versionId: string,
  layer: string,
  option: string,
  found: { readonly accuracy: number } | { readonly unavailable: string },
): Promise<void> {
  await prisma.layerOption.update({
    where: { modelVersionId_layer_option: { modelVersionId: versionId, layer, option } },
    data: found,
  });
}

/** Moves a version's accuracy model to `state`, with the original's accuracies once ready. */
export async function setAccuracyState(
  prisma: PrismaClient,
  versionId: string,
  state: AccuracyState,
  figures: { calibrationAccuracy?: number; heldOutAccuracy?: number; detail?: string } = {},
): Promise<void> {
  await prisma.modelVersion.update({
    where: { id: versionId },
    data: {
      accuracyState: state,
      accuracyDetail: figures.detail ?? null,
      calibrationAccuracy: figures.calibrationAccuracy,
      heldOutAccuracy: figures.heldOutAccuracy,
    },
  });
}
