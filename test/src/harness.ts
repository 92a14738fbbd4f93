/**
 * What every end-to-end spec starts with: a planner in a temporary directory, an admin client, and
 * agent settings that find it. Its warnings and errors are kept, to quote when a wait times out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '@blinknet/cli';
import { type GetStatusResponse } from '@blinknet/proto/v1/admin';
import {
  type AgentOptions,
  classScope,
  type Daemon,
  freePort,
  LOOP_ENDED,
  type PlannerOptions,
  startPlanner,
  statusWhen,
} from './fleet';

const TOKEN = 'e2e-admin-token';
const SECRET = 'e2e-enrollment-secret';

export interface E2eFleet {
  readonly dir: string;
  readonly plannerOptions: PlannerOptions;
  /** Replaced by a spec that restarts the planner (on the same port and data). */
  planner: Daemon;
  readonly client: AdminClient;
  /** Settings for an agent of `deviceClass` with its own data directory under `dir`. */
  agentOptions(name: string, deviceClass: string, threads: number): AgentOptions;
  /** Polls `deviceClass`'s status until `ok` accepts it; a timeout quotes the planner's warnings. */
  statusWhen(
    deviceClass: string,
    what: string,
    ok: (s: GetStatusResponse) => boolean,
    everyMs?: number,
  ): Promise<GetStatusResponse>;
  /** The status once the closed loop of `deviceClass`'s policy has ended. */
  loopEnded(deviceClass: string): Promise<GetStatusResponse>;
  /** Stops `daemons` and the planner, and removes `dir`. */
  stop(...daemons: (Daemon | undefined)[]): Promise<void>;
}

/**
 * Starts a planner for one spec, on a fixed port (so that a restarted planner is found where its
 * agents left it).
 */
export async function startE2eFleet(
  name: string,
  settings: Pick<PlannerOptions, 'calibrationImages' | 'maxRounds' | 'canaryDevices'> = {},
): Promise<E2eFleet> {
  const dir = mkdtempSync(join(tmpdir(), `blinknet-e2e-${name}-`));
  const trouble: string[] = [];
  const port = await freePort();
  const plannerOptions: PlannerOptions = {
    port,
    dataDir: join(dir, 'planner'),
    adminToken: TOKEN,
    enrollmentSecret: SECRET,
    calibrationImages: 300,
    ...settings,
    onLog: (line) => {
      if (Number(line.level) >= 40) trouble.push(JSON.stringify(line).slice(0, 600));
    },
  };
  const planner = await startPlanner(plannerOptions);
  const client = new AdminClient(`127.0.0.1:${port}`, TOKEN, 60_000);
  const fleet: E2eFleet = {
    dir,
    plannerOptions,
    planner,
    client,
    agentOptions: (agent, deviceClass, threads) => ({
      planner: `127.0.0.1:${port}`,
      deviceClass,
      name: agent,
      threads,
      dataDir: join(dir, agent),
      enrollmentSecret: SECRET,
    }),
    statusWhen: (deviceClass, what, ok, everyMs) =>
      statusWhen(client, classScope(deviceClass), what, ok, {
        everyMs,
        context: () => `planner: ${trouble.slice(-5).join(' | ')}`,
      }),
    loopEnded: (deviceClass) =>
      fleet.statusWhen(deviceClass, 'the closed loop to end', (s) => LOOP_ENDED.includes(s.loops[0]?.state)),
    stop: async (...daemons) => {
      client.close();
      await Promise.all([...daemons, fleet.planner].map((d) => d?.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fleet;
}
