import { WatchJobsResponse } from '@blinknet/proto/v1/agent';
import {
  classMeasurements,
  type DeviceSummary,
  enqueueJobOnce,
  latestModelVersion,
  listDevices,
  type OpenedDatabase,
  type PolicyRecord,
} from '@blinknet/store';
import { type AgentServiceImpl } from './agent-service';

/** The devices a policy applies to: its class's, or its one device. */
export async function devicesInScope(db: OpenedDatabase, policy: PolicyRecord): Promise<DeviceSummary[]> {
  const scope = policy.scope;
  return 'deviceId' in scope
    ? (await listDevices(db.prisma)).filter((d) => d.id === scope.deviceId)
    : listDevices(db.prisma, scope.deviceClass);
}

/**
 * Queues profiling of a policy's models on the devices in scope whose class has no figures of them
 * yet (one job per device and model version, never twice); returns how many were queued.
 */
export async function queueProfiling(
  db: OpenedDatabase,
  agents: AgentServiceImpl,
  policy: PolicyRecord,
): Promise<number> {
  const devices = await devicesInScope(db, policy);
  let queued = 0;
  for (const { model } of policy.models) {
    const version = await latestModelVersion(db.prisma, model);
    if ((await classMeasurements(db.prisma, policy.deviceClassId, version.id)).length > 0) continue;
    const layers = new Map<string, string[]>();
    for (const o of version.options) layers.set(o.layer, [...(layers.get(o.layer) ?? []), o.option]);
    for (const device of devices) {
      const job: WatchJobsResponse = {
        jobId: `profile-${version.sha256.slice(0, 16)}-${device.id}`,
        profile: {
          model: { sha256: version.sha256, bytes: version.bytes },
          layers: [...layers].map(([layer, options]) => ({ layer, options })),
          batchSize: 1,
          timedRuns: 0,
        },
        deploy: undefined,
      };
      const stored = await enqueueJobOnce(db.prisma, {
        id: job.jobId,
        deviceId: device.id,
        kind: 'profile',
        payload: WatchJobsResponse.encode(job).finish(),
      });
      if (stored) {
        agents.notify(device.id, job);
        queued++;
      }
    }
  }
  return queued;
}
