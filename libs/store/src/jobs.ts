import { InvalidArgumentError } from '@blinknet/core';
import { type PrismaClient } from './generated/prisma/client';

export const JOB_KINDS = ['profile', 'deploy'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export interface JobRecord {
  readonly id: string;
  readonly deviceId: string;
  readonly kind: JobKind;
  /** The job as sent to the device (protobuf bytes; the store does not read them). */
  readonly payload: Uint8Array;
}

/** Queues work for a device; it stays pending (and is re-sent on every reconnect) until completed. */
export async function enqueueJob(
  prisma: PrismaClient,
  input: {
    readonly id: string;
    readonly deviceId: string;
    readonly kind: JobKind;
    readonly payload: Uint8Array;
  },
): Promise<JobRecord> {
  if (!JOB_KINDS.includes(input.kind))
    throw new InvalidArgumentError('kind', `must be one of ${JOB_KINDS.join(', ')}`);
  const job = await prisma.job.create({
    data: { id: input.id, deviceId: input.deviceId, kind: input.kind, payload: Buffer.from(input.payload) },
  });
  return { id: job.id, deviceId: job.deviceId, kind: job.kind as JobKind, payload: job.payload };
}

/** Queues a job unless one with its id exists already (pending or done): undefined then. */
export async function enqueueJobOnce(
  prisma: PrismaClient,
  input: Parameters<typeof enqueueJob>[1],
): Promise<JobRecord | undefined> {
  if (await prisma.job.findUnique({ where: { id: input.id }, select: { id: true } })) return undefined;
  return enqueueJob(prisma, input);
}

/** A device's pending jobs, oldest first. */
export async function pendingJobs(prisma: PrismaClient, deviceId: string): Promise<JobRecord[]> {
  const jobs = await prisma.job.findMany({
    where: { deviceId, state: 'pending' },
    orderBy: { createdAt: 'asc' },
  });
  return jobs.map((j) => ({ id: j.id, deviceId: j.deviceId, kind: j.kind as JobKind, payload: j.payload }));
}

/** Marks jobs done (a report answered them); unknown ids are ignored. */
export async function completeJobs(
  prisma: PrismaClient,
  deviceId: string,
  ids: readonly string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  const { count } = await prisma.job.updateMany({
    where: { deviceId, id: { in: [...ids] }, state: 'pending' },
    data: { state: 'done' },
  });
  return count;
}
