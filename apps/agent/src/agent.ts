import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Server, ServerCredentials, Server as GrpcServer } from '@grpc/grpc-js';
import { type Logger } from 'pino';
import { latencyAt, toError } from '@blinknet/core';
import { decodeModel, weightBytes } from '@blinknet/onnx';
import {
  type DeployJob,
  type DeviceEvent,
  EventKind,
  type Measurement,
  type ProfileJob,
  type WatchJobsResponse,
} from '@blinknet/proto/v1/agent';
import { deviceFacts, measureModelMemory, ModelSession, type SessionOptions } from '@blinknet/runtime';
import { type AgentConfig } from './config';
import { type DeviceIdentity, loadOrRegister } from './identity';
import { LocalRuntime } from './local-runtime';
import { LadderMonitor, type MonitorDecision } from './monitor';
import { layerLatency, modelLatency, modelMemory, type Subject } from './measurements';
import { type ArtifactSource, ModelStore } from './model-store';
import { PlannerClient } from './planner-client';
import { modelInputs, profileModel } from './profiler';
import { Reporter } from './reporter';
import { addLocalRuntimeService } from './runtime-server';
import { Spool } from './spool';
import { verifyModel } from './verify';

/** How often the resident memory of the served models is checked against their bounds. */
const MEMORY_CHECK_MS = 5_000;

/** The running daemon: registration, reporting, jobs, model store and local inference. */
export class Agent {
  private readonly abort = new AbortController();
  private jobsLoop: Promise<void> | undefined;
  private readonly jobsRun = new Set<string>();
  private memoryTimer: NodeJS.Timeout | undefined;
  /** The agent's own resident memory, before any model: what the models add is measured above it. */
  private readonly baselineRssBytes = process.memoryUsage().rss;

  private constructor(
    readonly config: AgentConfig,
    readonly identity: DeviceIdentity,
    readonly log: Logger,
    private readonly planner: PlannerClient,
    readonly spool: Spool,
    readonly reporter: Reporter,
    readonly store: ModelStore,
    readonly runtime: LocalRuntime,
    private readonly monitor: LadderMonitor,
    private readonly server: Server,
    /** The local inference API's bound address (the port resolved when `listen` asked for 0). */
    readonly localAddress: string,
  ) {}

  /**
   * Starts the agent: registers (or reuses the saved identity), starts draining the spool, opens the
   * local inference API and follows the planner's jobs. Registration is retried with backoff while
   * the planner is unreachable; a wrong enrollment secret fails at once.
   */
  static async start(config: AgentConfig, log: Logger): Promise<Agent> {
    // The data dir holds the device token: private to this user.
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const planner = new PlannerClient(config.planner);
    const { identity, registered } = await loadOrRegister(config.dataDir, config, (secret) => {
      // Only to register: listing execution providers loads onnxruntime, which an agent restarted
      // with its identity does not need until it serves or profiles a model.
      const facts = deviceFacts();
      return planner.register({
        enrollmentSecret: secret,
        deviceClass: config.deviceClass,
        name: config.name,
        facts: { ...facts, executionProviders: [...facts.executionProviders] },
      });
    });
    planner.authenticate(identity.token);
    log.info({ deviceId: identity.deviceId, registered }, registered ? 'registered' : 'identity loaded');

    const spool = new Spool(join(config.dataDir, 'spool'), (path, reason) =>
      log.error({ path, reason }, 'spooled batch set aside, not sent again'),
    );
    const reporter = new Reporter(spool, {
      send: (batches) => planner.report(batches),
      onError: (error, retryInMs) => log.warn({ err: error.message, retryInMs }, 'report failed; will retry'),
      onDelivered: (count) => count > 0 && log.debug({ count }, 'reports delivered'),
    });
    const session: SessionOptions = { intraOpThreads: config.threads };
    const store = await ModelStore.open(join(config.dataDir, 'models'), {
      maxBytes: config.storageBytes,
      // A download resumes across a planner restart or outage of up to about 3 minutes (backoff
      // 0.2 s doubling to 30 s) before the deployment is reported failed.
      maxAttempts: 12,
      validate: async (path) => (await ModelSession.create(path, session)).dispose(),
    });
    const monitor = new LadderMonitor();
    let onLatency = (_model: string, _ms: number) => {};
    const runtime = new LocalRuntime(session, (model, ms) => onLatency(model, ms));
    // After a restart the device serves what it served before (its active releases), not nothing.
    const discarded: DeviceEvent[] = [];
    for (const model of store.models()) discarded.push(...(await serveRelease(model, store, runtime, log)));
    const server = new GrpcServer();
    addLocalRuntimeService(server, runtime);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(config.listen, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const localAddress = config.listen.startsWith('unix:')
      ? config.listen
      : config.listen.replace(/:\d+$/, `:${port}`);
    log.info({ listen: localAddress }, 'local inference API listening');
    const agent = new Agent(
      config,
      identity,
      log,
      planner,
      spool,
      reporter,
      store,
      runtime,
      monitor,
      server,
      localAddress,
    );
    onLatency = (model, ms) => agent.onLatency(model, ms);
    if (discarded.length > 0) agent.report([], discarded);
    agent.memoryTimer = setInterval(() => agent.checkMemory(), MEMORY_CHECK_MS).unref();
    reporter.start();
    agent.jobsLoop = agent.followJobs();
    return agent;
  }

  /** Spools figures and events for the planner and wakes the reporter. */
  report(measurements: readonly Measurement[], events: readonly DeviceEvent[] = []): void {
    this.spool.append(measurements, events);
    this.reporter.notify();
  }

  /** Stops following jobs, closes the local API after in-flight calls, stops the reporter. */
  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.memoryTimer);
    await this.jobsLoop;
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await this.reporter.stop();
    await this.runtime.close();
    this.planner.close();
  }

  private artifacts(): ArtifactSource {
    return {
      fetch: (sha256, offset, signal) => this.planner.fetchArtifact(sha256, offset, signal),
    };
  }

  /** Keeps one WatchJobs stream open, reconnecting with backoff; runs jobs one at a time. */
  private async followJobs(): Promise<void> {
    let delay = 500;
    while (!this.abort.signal.aborted) {
      try {
        for await (const job of this.planner.watchJobs(this.abort.signal)) {
          delay = 500;
          await this.runJob(job);
        }
      } catch (error) {
        if (this.abort.signal.aborted) break;
        this.log.warn({ err: toError(error).message, retryInMs: delay }, 'job stream dropped; reconnecting');
      }
      if (this.abort.signal.aborted) break;
      // Jittered, and cut short by stop().
      await sleep(delay * (0.5 + Math.random() / 2), undefined, { signal: this.abort.signal }).catch(
        () => {},
      );
      delay = Math.min(30_000, delay * 2);
    }
  }

  private async runJob(job: WatchJobsResponse): Promise<void> {
    // A job is re-sent until the planner sees it answered (e.g. after a reconnect): run it once.
    if (this.jobsRun.has(job.jobId)) return;
    this.jobsRun.add(job.jobId);
    const log = this.log.child({ jobId: job.jobId });
    try {
      if (job.profile) await this.profile(job.jobId, job.profile, log);
      else if (job.deploy) await this.deploy(job.jobId, job.deploy, log);
      else log.warn('job with no work: ignored (planner newer than this agent?)');
    } catch (error) {
      log.error({ err: toError(error).message }, 'job failed');
    }
  }

  /**
   * Every served request's latency goes through the ladder monitor; a step is taken at once (hot
   * swap, off the request's path) and reported with the figures that caused it.
   */
  onLatency(model: string, latencyMs: number): void {
    const decision = this.monitor.record(model, latencyMs);
    if (!decision) return;
    const current = this.runtime.current(model);
    const step = current.step + (decision.kind === 'step-down' ? 1 : decision.kind === 'step-up' ? -1 : 0);
    const events = [this.ladderEvent(model, decision, current.sha256)];
    if (decision.kind === 'step-down') {
      events.unshift(this.ladderEvent(model, { ...decision, kind: 'violated' }, current.sha256));
    }
    this.log.warn({ model, ...decision, step }, 'ladder monitor: latency');
    this.step(model, step, events);
  }

  /** The memory the served models add to this process, checked against their bounds. */
  private checkMemory(): void {
    const added = process.memoryUsage().rss - this.baselineRssBytes;
    const decision = this.monitor.checkMemory(added);
    if (!decision) return;
    const current = this.runtime.current(decision.model);
    const detail = `memory ${added} B > bound ${decision.boundBytes} B (all served models)`;
    const base = { model: decision.model, deploymentId: '', observed: added, bound: decision.boundBytes };
    const events: DeviceEvent[] = [
      {
        ...base,
        eventId: randomUUID(),
        kind: EventKind.EVENT_KIND_BOUND_VIOLATED,
        detail,
        atUnixMs: Date.now(),
        artifactSha256: current.sha256,
      },
      {
        ...base,
        eventId: randomUUID(),
        kind: EventKind.EVENT_KIND_LADDER_STEP_DOWN,
        detail,
        atUnixMs: Date.now(),
        artifactSha256: current.sha256,
      },
    ];
    this.log.warn({ ...decision, step: current.step + 1 }, 'ladder monitor: memory');
    this.step(decision.model, current.step + 1, events);
  }

  /** Moves a model to another ladder step (hot swap, off any request's path) and reports why. */
  private step(model: string, step: number, events: DeviceEvent[]): void {
    if (step === this.runtime.current(model).step) {
      this.report([], events);
      return;
    }
    this.runtime.switchTo(model, step).then(
      () => this.report([], events),
      (error: unknown) => this.log.error({ model, err: toError(error).message }, 'ladder switch failed'),
    );
  }

  private ladderEvent(model: string, decision: MonitorDecision, sha256: string): DeviceEvent {
    const kind = {
      'step-down': EventKind.EVENT_KIND_LADDER_STEP_DOWN,
      'step-up': EventKind.EVENT_KIND_LADDER_STEP_UP,
      violated: EventKind.EVENT_KIND_BOUND_VIOLATED,
    }[decision.kind];
    return {
      eventId: randomUUID(),
      kind,
      model,
      deploymentId: '',
      detail: `${decision.kind}: latency ${decision.observedMs.toFixed(3)} ms vs bound ${decision.boundMs} ms`,
      observed: decision.observedMs,
      bound: decision.boundMs,
      atUnixMs: Date.now(),
      artifactSha256: sha256,
    };
  }

  /** Times every listed (layer, option), the whole model, and its memory; spools the figures. */
  async profile(jobId: string, job: ProfileJob, log: Logger = this.log): Promise<Measurement[]> {
    const ref = job.model!;
    const path = await this.store.install(ref, this.artifacts(), this.abort.signal);
    const model = decodeModel(readFileSync(path), path);
    const subject: Subject = { jobId, modelSha256: ref.sha256 };
    const session: SessionOptions = { intraOpThreads: this.config.threads };
    let lastLog = 0;
    const profile = await profileModel(
      {
        model,
        options: Object.fromEntries(job.layers.map((l) => [l.layer, l.options])),
        batchSize: job.batchSize || 1,
      },
      {
        session,
        signal: this.abort.signal,
        onProgress: (done, total, label) => {
          if (Date.now() - lastLog < 2000 && done < total) return;
          lastLog = Date.now();
          log.info({ done, total, label }, 'profiling');
        },
      },
    );
    const inputs = modelInputs(model, job.batchSize || 1);
    const dims = Object.fromEntries(Object.entries(inputs).map(([name, tensor]) => [name, tensor.dims]));
    const memory = await measureModelMemory(path, dims, session);
    const measurements = [
      ...profile.layers.map((m) => layerLatency(subject, m.layer, m.option, m)),
      modelLatency(subject, profile.endToEnd, profile.nodes),
      modelMemory(subject, memory, weightBytes(model), profile.endToEnd.context),
    ];
    this.report(measurements);
    log.info({ measurements: measurements.length }, 'profile spooled');
    return measurements;
  }

  /**
   * Installs a ladder (verified, atomic), serves its first variant, verifies the bounds on this
   * device and reports the measured figures; on a violation the previous release keeps serving.
   */
  async deploy(jobId: string, job: DeployJob, log: Logger = this.log): Promise<Measurement[]> {
    // A state's id is the deployment's and the state: resent, it is stored once.
    const event = (state: string, detail = state) =>
      deploymentState(
        job.model,
        job.deploymentId,
        detail,
        job.ladder[0]?.sha256 ?? '',
        `${job.deploymentId}:${state}`,
      );
    this.report([], [event('downloading')]);
    const shas = job.ladder.map((r) => r.sha256);
    let release;
    try {
      for (const ref of job.ladder) await this.store.install(ref, this.artifacts(), this.abort.signal);
      this.report([], [event('verifying')]);
      this.store.activate(job.model, shas, job.deploymentId);
      release = this.store.release(job.model)!;
      // Not served, not current on disk either (the previous release, if any, stays both).
      await this.runtime.deploy(job.model, release.current).catch((error: unknown) => {
        this.store.discard(job.model);
        throw error;
      });
    } catch (error) {
      // The planner learns every outcome; the previous release, if any, keeps serving.
      this.report([], [event('failed', `failed: ${toError(error).message}`)]);
      throw error;
    }
    const { measurements, violations } = await this.verify(jobId, job, release.current[0].path);
    if (violations.length > 0) {
      const previous = release.previous;
      if (previous) {
        this.store.rollback(job.model);
        await this.runtime.deploy(job.model, previous);
      }
      this.report(measurements, [...violations, event(previous ? 'rolled-back' : 'failed')]);
      log.warn({ violations: violations.map((v) => v.detail) }, 'deployment violates its bounds');
    } else {
      this.monitor.watch(job.model, job.bounds ?? {}, 0, shas.length);
      this.report(measurements, [event('active')]);
      log.info({ model: job.model }, 'deployment active, bounds met on this device');
    }
    return measurements;
  }

  /** Measures the served variant (verifyModel) and checks it against the deployment's bounds. */
  private async verify(jobId: string, job: DeployJob, path: string) {
    const subject: Subject = { jobId, modelSha256: job.ladder[0].sha256 };
    const percentile = job.bounds?.latencyPercentile || 95;
    const {
      latency,
      windows,
      memory,
      weightBytes: weights,
    } = await verifyModel(path, { threads: this.config.threads, percentile });
    this.log.info(
      {
        model: job.model,
        windows: windows.map((w) => ({
          runs: w.stats.runs,
          medianMs: w.stats.medianMs,
          p95Ms: w.stats.p95Ms,
        })),
      },
      'latency verified',
    );
    const storageBytes = job.ladder.reduce((n, r) => n + r.bytes, 0);
    const bounds = job.bounds;
    const violations: DeviceEvent[] = [];
    const check = (observed: number, bound: number | undefined, what: string) => {
      if (bound && observed > bound) {
        violations.push({
          eventId: `${job.deploymentId}:${what}`,
          kind: EventKind.EVENT_KIND_BOUND_VIOLATED,
          model: job.model,
          deploymentId: job.deploymentId,
          detail: `${what} ${observed.toFixed(what === 'latency' ? 3 : 0)} > bound ${bound}`,
          observed,
          bound,
          atUnixMs: Date.now(),
          artifactSha256: job.ladder[0].sha256,
        });
      }
    };
    check(latencyAt(latency.stats, percentile), bounds?.latencyMs, 'latency');
    check(memory.addedBytes, bounds?.memoryBytes, 'memory');
    check(storageBytes, bounds?.storageBytes, 'storage');
    return {
      measurements: [modelLatency(subject, latency), modelMemory(subject, memory, weights, latency.context)],
      violations,
    };
  }
}

/** A deployment's state as the planner reads it: `detail` starts with the state ("failed: why"). */
function deploymentState(
  model: string,
  deploymentId: string,
  detail: string,
  artifactSha256: string,
  eventId: string,
): DeviceEvent {
  return {
    eventId,
    kind: EventKind.EVENT_KIND_DEPLOYMENT_STATE,
    model,
    deploymentId,
    detail,
    observed: 0,
    bound: 0,
    atUnixMs: Date.now(),
    artifactSha256,
  };
}

/**
 * Serves a model's current release from disk. One that cannot be loaded (a file damaged at rest, as
 * on a worn SD card) is discarded for the previous release, and the planner is told (the
 * deployment that installed it is rolled back), so that it deploys its plan here again. Returns the
 * events to report.
 */
async function serveRelease(
  model: string,
  store: ModelStore,
  runtime: LocalRuntime,
  log: Logger,
): Promise<DeviceEvent[]> {
  const events: DeviceEvent[] = [];
  for (let release = store.release(model); release; release = store.release(model)) {
    try {
      await runtime.deploy(model, release.current);
      break;
    } catch (error) {
      const reason = toError(error).message;
      const sha256 = release.current[0].sha256;
      const { deployment, current } = store.discard(model);
      log.error(
        { model, artifact: sha256, err: reason, serving: current?.[0].sha256 ?? null },
        current
          ? 'release cannot be served: rolled back to the previous one'
          : 'release cannot be served, and there is no previous one',
      );
      const detail = `${current ? 'rolled-back' : 'failed'}: cannot serve artifact ${sha256}: ${reason}`;
      events.push(deploymentState(model, deployment ?? '', detail, sha256, randomUUID()));
    }
  }
  return events;
}
