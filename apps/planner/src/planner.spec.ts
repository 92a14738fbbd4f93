import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { AgentServiceClient } from '@blinknet/proto/v1/agent';
import { parsePlannerConfig } from './config';
import { Planner } from './planner';

describe('Planner', () => {
  it('migrates its database, keeps a generated enrollment secret private, enrols with it, stops cleanly', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'blinknet-planner-')), 'var');
    const planner = await Planner.start(
      { port: 0, dataDir, logLevel: 'silent', calibrationImages: 1000, maxRounds: 3 },
      pino({ level: 'silent' }),
    );
    try {
      expect(planner.db.appliedMigrations).toEqual([
        '0001_init',
        '0002_planner',
        '0003_models',
        '0004_deployments',
        '0005_unavailable_options',
      ]);
      const secretPath = join(dataDir, 'enrollment-secret');
      expect(statSync(secretPath).mode & 0o777).toBe(0o600);
      const client = new AgentServiceClient(`127.0.0.1:${planner.port}`, credentials.createInsecure());
      const response = await new Promise<{ deviceId: string; token: string }>((resolve, reject) =>
        client.register(
          {
            enrollmentSecret: readFileSync(secretPath, 'utf8').trim(),
            deviceClass: 'rpi4',
            name: 'pi-01',
            facts: undefined,
          },
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      );
      client.close();
      expect(response.token.length).toBeGreaterThan(30);
      expect(await planner.db.prisma.device.count()).toBe(1);
    } finally {
      await planner.stop();
      rmSync(dirname(dataDir), { recursive: true, force: true });
    }
  });
});

describe('parsePlannerConfig', () => {
  const read = () => '{}';
  it('defaults the port, requires a data dir, refuses bad values naming them', () => {
    expect(parsePlannerConfig(['--data-dir', 'var'], {}, read)).toEqual({
      help: false,
      config: {
        port: 7070,
        dataDir: 'var',
        enrollmentSecret: undefined,
        adminToken: undefined,
        calibrationImages: 1000,
        maxRounds: 3,
        canaryDevices: 0,
        replanAfterS: 60,
        logLevel: 'info',
      },
    });
    expect(() => parsePlannerConfig([], {}, read)).toThrow(/--data-dir: is required/);
    expect(() => parsePlannerConfig(['--data-dir', 'v'], { BLINKNET_PORT: '70000' }, read)).toThrow(
      /BLINKNET_PORT: must be <= 65535/,
    );
    expect(() => parsePlannerConfig(['--data-dir', 'v', '--log-level', 'loud'], {}, read)).toThrow(
      /--log-level: must be one of/,
    );
  });
});
