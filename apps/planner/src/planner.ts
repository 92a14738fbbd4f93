import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type Logger } from 'pino';
import { writeFileAtomic } from '@blinknet/onnx';
import { AdminServiceService } from '@blinknet/proto/v1/admin';
import { AgentServiceService } from '@blinknet/proto/v1/agent';
import { type OpenedDatabase, openDatabase } from '@blinknet/store';
import { AccuracyWorker } from './accuracy';
import { AdminServiceImpl } from './admin-service';
import { AgentServiceImpl } from './agent-service';
import { Deployer } from './deploy';
import { ClosedLoop } from './loop';
import { type PlannerConfig } from './config';

/** Messages up to 8 MiB (artifact chunks are 1 MiB; uploads come as chunked streams). */
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** The running planner: database (migrated at start), the accuracy worker and the gRPC services. */
export class Planner {
  private constructor(
    readonly db: OpenedDatabase,
    readonly agents: AgentServiceImpl,
    readonly accuracy: AccuracyWorker,
    readonly loop: ClosedLoop,
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(config: PlannerConfig, log: Logger): Promise<Planner> {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const db = await openDatabase(join(config.dataDir, 'planner.db'));
    if (db.appliedMigrations.length > 0) log.info({ migrations: db.appliedMigrations }, 'database migrated');
    const agents = new AgentServiceImpl({
      db,
      dataDir: config.dataDir,
      enrollmentSecret:
        config.enrollmentSecret ??
        secretFile(
          config.dataDir,
          'enrollment-secret',
          log,
          'give it to devices as BLINKNET_ENROLLMENT_SECRET',
        ),
    });
    const accuracy = new AccuracyWorker(db, config.dataDir, log.child({ part: 'accuracy' }), {
      calibrationImages: config.calibrationImages,
    });
    const deployer = new Deployer(db, config.dataDir, agents, log.child({ part: 'deploy' }), {
      calibrationImages: config.calibrationImages,
    });
    const loop = new ClosedLoop(db, deployer, agents, log.child({ part: 'loop' }), {
      maxRounds: config.maxRounds,
      canaryDevices: config.canaryDevices,
      replanAfterMs: config.replanAfterS === undefined ? undefined : 1000 * config.replanAfterS,
    });
    const admin = new AdminServiceImpl({
      db,
      dataDir: config.dataDir,
      adminToken:
        config.adminToken ??
        secretFile(config.dataDir, 'admin-token', log, 'give it to operators as BLINKNET_ADMIN_TOKEN'),
      accuracy,
      agents,
      deployer,
    });
    const server = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    server.addService(AgentServiceService, agents.handlers());
    server.addService(AdminServiceService, admin.handlers());
    let port: number;
    try {
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`0.0.0.0:${config.port}`, ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(error) : resolve(bound),
        ),
      );
    } catch (error) {
      await db.close();
      throw error;
    }
    log.info({ port, dataDir: config.dataDir }, 'planner listening');
    await accuracy.start();
    if (config.maxRounds > 0) loop.start();
    return new Planner(db, agents, accuracy, loop, server, port);
  }

  /** Finishes in-flight calls, the loop's step and the option being evaluated, then closes the database. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await this.loop.stop();
    await this.accuracy.stop();
    await this.db.close();
  }
}

/** A secret generated on first start and kept in the data dir, readable by its owner only. */
function secretFile(dataDir: string, name: string, log: Logger, hint: string): string {
  const path = join(dataDir, name);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const secret = randomBytes(24).toString('base64url');
  writeFileAtomic(path, Buffer.from(`${secret}\n`), 0o600);
  log.info({ path }, `${name} generated; ${hint}`);
  return secret;
}
