import { createHash, type Hash } from 'node:crypto';
import {
  chmodSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlinkNetError, formatBytes, InvalidArgumentError, NotFoundError, toError } from '@blinknet/core';
import { syncDirectory, writeFileAtomic } from '@blinknet/onnx';

/** One piece of an artifact's bytes, as the planner's FetchArtifact stream sends it. */
export interface ArtifactChunk {
  readonly offset: number;
  readonly data: Uint8Array;
  readonly totalBytes: number;
  readonly sha256: string;
}

/**
 * Where artifacts come from (the planner's FetchArtifact server stream in production). May throw
 * mid-stream (a disconnect).
 */
export interface ArtifactSource {
  fetch(sha256: string, offset: number, signal?: AbortSignal): AsyncIterable<ArtifactChunk>;
}

export interface ArtifactRef {
  /** Lower-case hex sha256 of the whole file. */
  readonly sha256: string;
  readonly bytes: number;
}

export interface ModelStoreOptions {
  /** Total bytes of installed artifacts (+ partial downloads) the store may hold. @default Infinity */
  readonly maxBytes?: number;
  /** Throws if onnxruntime cannot load the file (the agent creates and disposes a ModelSession). */
  readonly validate: (path: string) => Promise<void>;
  /** Download attempts before giving up; resumes from the last durable offset between attempts. @default 5 */
  readonly maxAttempts?: number;
  /** Delay between attempts, ms, doubled each time, capped at 30 s. @default 200 */
  readonly retryDelayMs?: number;
  readonly onProgress?: (sha256: string, bytes: number, total: number) => void;
}

export interface InstalledArtifact {
  readonly sha256: string;
  readonly path: string;
}

/** A model's releases; a release is a ladder: index 0 is the planned model, later ones tighter fallbacks. */
export interface ModelRelease {
  readonly current: readonly InstalledArtifact[];
  /** The planner's deployment that installed the current release, when it came from one. */
  readonly deployment?: string;
  readonly previous?: readonly InstalledArtifact[];
}

/**
 * Thrown when a downloaded artifact is not the one asked for (hash, size) or onnxruntime cannot load
 * it; nothing is installed and the partial file is deleted.
 */
export class ArtifactRejectedError extends BlinkNetError {
  override readonly name = 'ArtifactRejectedError';

  constructor(
    readonly sha256: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`artifact ${sha256} rejected: ${reason}`, options);
  }
}

/** Thrown before any download when an artifact cannot fit beside every model's current release. */
export class StorageBoundError extends BlinkNetError {
  override readonly name = 'StorageBoundError';

  constructor(
    readonly sha256: string,
    readonly neededBytes: number,
    readonly boundBytes: number,
  ) {
    super(
      `artifact ${sha256}: needs ${formatBytes(neededBytes)} with the current releases, ` +
        `over the storage bound of ${formatBytes(boundBytes)}`,
    );
  }
}

/** Thrown when a download fails on every attempt (disconnects); the partial file is kept for resume. */
export class ArtifactDownloadError extends BlinkNetError {
  override readonly name = 'ArtifactDownloadError';

  constructor(
    readonly sha256: string,
    readonly attempts: number,
    readonly bytesReached: number,
    options?: { cause?: unknown },
  ) {
    super(
      `artifact ${sha256}: download failed after ${attempts} attempt(s) at byte ${bytesReached}: ` +
        toError(options?.cause).message,
      options,
    );
  }
}

/** Thrown when an install is cancelled through its AbortSignal; the partial file is kept for resume. */
export class InstallCancelledError extends BlinkNetError {
  override readonly name = 'InstallCancelledError';
}

/** Thrown by `ModelStore.open` when state.json cannot be trusted: a silent reset would lose releases. */
export class ModelStoreStateError extends BlinkNetError {
  override readonly name = 'ModelStoreStateError';

  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
  }
}

interface Release {
  readonly current: readonly string[];
  readonly deployment?: string;
  readonly previous?: readonly string[];
  readonly previousDeployment?: string;
}

interface StateFile {
  readonly version: 1;
  readonly models: Record<string, Release>;
}

type Resolved = Required<Omit<ModelStoreOptions, 'onProgress'>> & Pick<ModelStoreOptions, 'onProgress'>;

interface Download {
  readonly bytes: number;
  readonly promise: Promise<string>;
}

/** Thrown inside an attempt for stream trouble that a retry may cure (gap, overlap, early end). */
class StreamError extends Error {}

const SHA256 = /^[0-9a-f]{64}$/;
// fsync cadence while downloading: bounds what a power cut can cost without syncing every chunk.
const SYNC_EVERY_BYTES = 4 * 1024 * 1024;
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * The agent's artifacts on disk and which of them each model runs. Layout under `dir`:
 * `artifacts/<sha256>.onnx` (installed, read-only), `artifacts/<sha256>.partial` (a download, resumable)
 * and `state.json` (each model's current and previous release). State only changes through atomic
 * writes and files are deleted only after the state that stops referencing them is durable, so a crash
 * loses at most the tail of a download.
 */
export class ModelStore {
  readonly #artifacts: string;
  readonly #statePath: string;
  readonly #options: Resolved;
  #models: Map<string, Release>;
  readonly #installed = new Map<string, number>();
  readonly #partials = new Map<string, number>();
  readonly #downloads = new Map<string, Download>();
  /**
   * Installed by this instance but not yet in a release: activate's clean-up spares them, since the
   * agent installs every ladder of a deployment (or a profiling model) before activating any.
   */
  readonly #staged = new Set<string>();

  private constructor(dir: string, options: Resolved, models: Map<string, Release>) {
    this.#artifacts = join(dir, 'artifacts');
    this.#statePath = join(dir, 'state.json');
    this.#options = options;
    this.#models = models;
  }

  static async open(dir: string, options: ModelStoreOptions): Promise<ModelStore> {
    const { maxBytes = Infinity, maxAttempts = 5, retryDelayMs = 200 } = options;
    if (!(maxBytes > 0)) throw new InvalidArgumentError('maxBytes', `must be positive, got ${maxBytes}`);
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new InvalidArgumentError('maxAttempts', `must be a positive integer, got ${maxAttempts}`);
    }
    if (!(retryDelayMs >= 0))
      throw new InvalidArgumentError('retryDelayMs', `must be >= 0, got ${retryDelayMs}`);

    const artifacts = join(dir, 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    const statePath = join(dir, 'state.json');
    // Temp files of a state write cut short by a crash (writeFileAtomic's naming).
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.state.json.') && name.endsWith('.tmp')) rmSync(join(dir, name), { force: true });
    }
    const resolved = { ...options, maxBytes, maxAttempts, retryDelayMs };
    const store = new ModelStore(dir, resolved, readState(statePath));

    for (const name of readdirSync(artifacts)) {
      const match = /^([0-9a-f]{64})\.(onnx|partial)$/.exec(name);
      if (!match) continue;
      const [, sha, kind] = match;
      const size = statSync(join(artifacts, name)).size;
      (kind === 'onnx' ? store.#installed : store.#partials).set(sha, size);
    }
    for (const sha of store.#partials.keys()) {
      // Crash after the rename's target appeared but before the partial was gone: the install won.
      if (store.#installed.has(sha)) store.#deletePartial(sha);
    }
    for (const [model, release] of store.#models) {
      for (const sha of [...release.current, ...(release.previous ?? [])]) {
        if (!store.#installed.has(sha)) {
          throw new ModelStoreStateError(
            statePath,
            `model '${model}' references artifact ${sha}, which is not installed`,
          );
        }
      }
    }
    if (store.usedBytes() > maxBytes) {
      const referenced = store.#referenced();
      store.#evictWhile(
        () => store.usedBytes() > maxBytes,
        [...store.#installed.keys()].filter((sha) => !referenced.has(sha)),
      );
    }
    return store;
  }

  /** Names of the models with a release. */
  models(): string[] {
    return [...this.#models.keys()];
  }

  /** Bytes on disk: installed artifacts plus partial downloads. */
  usedBytes(): number {
    let total = 0;
    for (const bytes of this.#installed.values()) total += bytes;
    for (const bytes of this.#partials.values()) total += bytes;
    return total;
  }

  /** The installed file of an artifact, or undefined. */
  installedPath(sha256: string): string | undefined {
    return this.#installed.has(sha256) ? this.#path(sha256, 'onnx') : undefined;
  }

  release(model: string): ModelRelease | undefined {
    const release = this.#models.get(model);
    if (!release) return undefined;
    const files = (shas: readonly string[]) =>
      shas.map((sha256) => ({ sha256, path: this.#path(sha256, 'onnx') }));
    return {
      current: files(release.current),
      ...(release.deployment !== undefined ? { deployment: release.deployment } : {}),
      ...(release.previous ? { previous: files(release.previous) } : {}),
    };
  }

  /**
   * Downloads, verifies and installs an artifact; returns its path. Resumes a partial download left by
   * an earlier call or process. Concurrent calls for one artifact share a download.
   */
  async install(ref: ArtifactRef, source: ArtifactSource, signal?: AbortSignal): Promise<string> {
    checkSha(ref.sha256);
    if (!Number.isSafeInteger(ref.bytes) || ref.bytes < 0) {
      throw new InvalidArgumentError('bytes', `must be a non-negative integer, got ${ref.bytes}`);
    }
    const installed = this.installedPath(ref.sha256);
    if (installed) return installed;
    const running = this.#downloads.get(ref.sha256);
    if (running) return abortable(running.promise, ref.sha256, signal);
    if (signal?.aborted)
      throw new InstallCancelledError(`install of artifact ${ref.sha256} cancelled before it started`);

    this.#makeRoom(ref);
    const promise = this.#download(ref, source, signal).finally(() => this.#downloads.delete(ref.sha256));
    this.#downloads.set(ref.sha256, { bytes: ref.bytes, promise });
    return promise;
  }

  /**
   * Makes `shas` the model's current release, installed by `deployment` (the old one becomes
   * previous), then frees unused files.
   */
  activate(model: string, shas: readonly string[], deployment?: string): void {
    if (model.length === 0) throw new InvalidArgumentError('model', 'must not be empty');
    if (shas.length === 0)
      throw new InvalidArgumentError('shas', `model '${model}': a release needs at least one artifact`);
    if (new Set(shas).size !== shas.length) {
      throw new InvalidArgumentError('shas', `model '${model}': an artifact appears twice in the release`);
    }
    for (const sha of shas) {
      checkSha(sha);
      if (!this.#installed.has(sha)) {
        throw new NotFoundError(
          'artifact',
          `cannot activate model '${model}': artifact ${sha} is not installed`,
        );
      }
    }
    const old = this.#models.get(model);
    // Re-activating the current release keeps the real previous one as the rollback target.
    if (old && sameList(old.current, shas)) {
      if (old.deployment !== deployment) this.#commit(model, { ...old, deployment });
    } else {
      this.#commit(model, {
        current: [...shas],
        deployment,
        ...(old && { previous: old.current, previousDeployment: old.deployment }),
      });
    }
    for (const sha of shas) this.#staged.delete(sha);
    this.#deleteUnreferenced();
    const bound = this.#options.maxBytes;
    while (this.usedBytes() > bound && this.#dropLargestPrevious()) this.#deleteUnreferenced();
  }

  /** Restores the model's previous release as current (it then has no previous) and returns it. */
  rollback(model: string): InstalledArtifact[] {
    const release = this.#models.get(model);
    if (!release) throw new NotFoundError('model', `cannot roll back model '${model}': it has no release`);
    if (!release.previous) {
      throw new NotFoundError('release', `cannot roll back model '${model}': it has no previous release`);
    }
    this.#commit(model, { current: release.previous, deployment: release.previousDeployment });
    return release.previous.map((sha256) => ({ sha256, path: this.#path(sha256, 'onnx') }));
  }

  /**
   * Gives up the model's current release because it cannot be served (a file damaged on disk): the
   * previous release, if any, becomes current, and the discarded files are deleted so that a later
   * install fetches them again. Returns the discarded release's deployment and what serves now.
   */
  discard(model: string): { deployment?: string; current?: InstalledArtifact[] } {
    const release = this.#models.get(model);
    if (!release) throw new NotFoundError('model', `cannot discard model '${model}': it has no release`);
    const current = release.previous && this.rollback(model);
    if (!current) this.#commit(model, undefined);
    const referenced = this.#referenced();
    for (const sha of release.current) if (!referenced.has(sha)) this.#deleteInstalled(sha);
    return { deployment: release.deployment, current };
  }

  #path(sha: string, kind: 'onnx' | 'partial'): string {
    return join(this.#artifacts, `${sha}.${kind}`);
  }

  /** Writes the state with `model` changed; memory follows only once the file is durable. */
  #commit(model: string, release: Release | undefined): void {
    const next = new Map(this.#models);
    if (release) next.set(model, release);
    else next.delete(model);
    const state: StateFile = { version: 1, models: Object.fromEntries(next) };
    writeFileAtomic(this.#statePath, new TextEncoder().encode(`${JSON.stringify(state, null, 2)}\n`));
    this.#models = next;
  }

  #referenced(which: 'all' | 'current' = 'all'): Set<string> {
    const shas = new Set<string>();
    for (const release of this.#models.values()) {
      for (const sha of release.current) shas.add(sha);
      if (which === 'all') for (const sha of release.previous ?? []) shas.add(sha);
    }
    return shas;
  }

  #deleteInstalled(sha: string): void {
    rmSync(this.#path(sha, 'onnx'), { force: true });
    this.#installed.delete(sha);
    this.#staged.delete(sha);
  }

  #deletePartial(sha: string): void {
    rmSync(this.#path(sha, 'partial'), { force: true });
    this.#partials.delete(sha);
  }

  /** Deletes installed artifacts that no release references, except staged ones. */
  #deleteUnreferenced(): void {
    const referenced = this.#referenced();
    for (const sha of [...this.#installed.keys()]) {
      if (!referenced.has(sha) && !this.#staged.has(sha)) this.#deleteInstalled(sha);
    }
  }

  /** Deletes the given installed artifacts, largest first, while `over()` holds. */
  #evictWhile(over: () => boolean, candidates: readonly string[]): void {
    const bySize = [...candidates].sort(
      (a, b) => (this.#installed.get(b) ?? 0) - (this.#installed.get(a) ?? 0),
    );
    for (const sha of bySize) {
      if (!over()) return;
      this.#deleteInstalled(sha);
    }
  }

  /** Drops the previous release that frees the most bytes (state first, files after); false if none. */
  #dropLargestPrevious(): boolean {
    const current = this.#referenced('current');
    let best: { model: string; freed: number } | undefined;
    for (const [model, release] of this.#models) {
      if (!release.previous) continue;
      const freed = release.previous
        .filter((sha) => !current.has(sha))
        .reduce((n, sha) => n + (this.#installed.get(sha) ?? 0), 0);
      if (!best || freed > best.freed) best = { model, freed };
    }
    if (!best) return false;
    this.#commit(best.model, { current: this.#models.get(best.model)!.current });
    return true;
  }

  /**
   * Checks that `ref` fits beside every current release and other running downloads, then frees room:
   * unreferenced artifacts, stale partials, previous releases, and last artifacts staged for activation.
   */
  #makeRoom(ref: ArtifactRef): void {
    const bound = this.#options.maxBytes;
    const current = this.#referenced('current');
    let needed = ref.bytes;
    for (const sha of current) needed += this.#installed.get(sha) ?? 0;
    for (const download of this.#downloads.values()) needed += download.bytes;
    if (needed > bound) throw new StorageBoundError(ref.sha256, needed, bound);

    // What the disk will hold once every running download (and this one) completes.
    const projected = () => {
      let total = ref.bytes;
      for (const bytes of this.#installed.values()) total += bytes;
      for (const download of this.#downloads.values()) total += download.bytes;
      for (const [sha, bytes] of this.#partials) {
        if (sha !== ref.sha256 && !this.#downloads.has(sha)) total += bytes;
      }
      return total;
    };
    const over = () => projected() > bound;
    if (!over()) return;
    const referenced = this.#referenced();
    this.#evictWhile(
      over,
      [...this.#installed.keys()].filter((sha) => !referenced.has(sha) && !this.#staged.has(sha)),
    );
    for (const sha of [...this.#partials.keys()]) {
      if (over()) break;
      if (sha !== ref.sha256 && !this.#downloads.has(sha)) this.#deletePartial(sha);
    }
    while (over() && this.#dropLargestPrevious()) {
      const stillReferenced = this.#referenced();
      this.#evictWhile(
        () => true,
        [...this.#installed.keys()].filter((sha) => !stillReferenced.has(sha) && !this.#staged.has(sha)),
      );
    }
    this.#evictWhile(over, [...this.#staged]);
  }

  async #download(
    ref: ArtifactRef,
    source: ArtifactSource,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const { sha256, bytes: total } = ref;
    const partial = this.#path(sha256, 'partial');
    const { maxAttempts, retryDelayMs, onProgress } = this.#options;
    const reject = (reason: string, cause?: unknown): never => {
      this.#deletePartial(sha256);
      throw new ArtifactRejectedError(sha256, reason, { cause });
    };
    const cancelled = (offset: number, cause?: unknown) =>
      new InstallCancelledError(
        `install of artifact ${sha256} cancelled at byte ${offset} of ${total}; the partial file is kept`,
        {
          cause,
        },
      );

    let offset: number;
    let hash: Hash;
    const handle = await openFile(partial, 'a+');
    try {
      ({ offset, hash } = await this.#resumePoint(partial, handle, total));
      this.#partials.set(sha256, offset);
      // On a hash mismatch the bytes are discarded and the artifact fetched once more from 0: a chunk
      // may have been corrupted on its way, or a prefix left by an earlier process be stale (a power
      // cut can keep a file's length but not its last bytes). A second mismatch rejects it.
      let refetched = false;
      let unsynced = 0;
      let attempt = 0;
      for (;;) {
        if (offset < total) {
          attempt++;
          try {
            for await (const chunk of source.fetch(sha256, offset, signal)) {
              if (signal?.aborted) break;
              if (chunk.sha256 !== sha256) reject(`the source sent a chunk of artifact ${chunk.sha256}`);
              if (chunk.totalBytes !== total)
                reject(`expected ${total} bytes, the source announces ${chunk.totalBytes}`);
              if (chunk.offset !== offset)
                throw new StreamError(`chunk at byte ${chunk.offset}, expected byte ${offset}`);
              if (offset + chunk.data.length > total) reject(`expected ${total} bytes, the source sent more`);
              await writeAll(handle, chunk.data);
              hash.update(chunk.data);
              offset += chunk.data.length;
              this.#partials.set(sha256, offset);
              unsynced += chunk.data.length;
              if (unsynced >= SYNC_EVERY_BYTES) {
                await handle.sync();
                unsynced = 0;
              }
              onProgress?.(sha256, offset, total);
              if (offset === total) break;
            }
            if (signal?.aborted) throw cancelled(offset, signal.reason);
            if (offset < total) throw new StreamError(`the stream ended at byte ${offset} of ${total}`);
          } catch (error) {
            if (error instanceof ArtifactRejectedError || error instanceof InstallCancelledError) throw error;
            if (signal?.aborted) throw cancelled(offset, error);
            // Bytes of a chunk whose write failed half-way are not in the hash: cut them off.
            if ((await handle.stat()).size !== offset) await handle.truncate(offset);
            if (attempt >= maxAttempts)
              throw new ArtifactDownloadError(sha256, attempt, offset, { cause: error });
            try {
              await sleep(Math.min(retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS), undefined, {
                signal,
              });
            } catch (abort) {
              throw cancelled(offset, abort);
            }
            continue;
          }
        }
        await handle.sync();
        unsynced = 0;
        const digest = hash.digest('hex');
        if (digest === sha256) break;
        if (refetched) reject(`sha256 of the ${total} bytes received is ${digest}, expected ${sha256}`);
        refetched = true;
        attempt = 0;
        await handle.truncate(0);
        offset = 0;
        hash = createHash('sha256');
        this.#partials.set(sha256, 0);
      }
    } finally {
      await handle.close();
    }

    try {
      await this.#options.validate(partial);
    } catch (error) {
      reject(`onnxruntime cannot load it: ${toError(error).message}`, error);
    }
    chmodSync(partial, 0o444);
    const target = this.#path(sha256, 'onnx');
    renameSync(partial, target);
    syncDirectory(this.#artifacts);
    this.#partials.delete(sha256);
    this.#installed.set(sha256, total);
    this.#staged.add(sha256);
    return target;
  }

  /** A partial file's prefix and its hash; a prefix longer than the artifact is discarded. */
  async #resumePoint(
    path: string,
    handle: FileHandle,
    total: number,
  ): Promise<{ offset: number; hash: Hash }> {
    const hash = createHash('sha256');
    const { size } = await handle.stat();
    if (size > total) {
      await handle.truncate(0);
      return { offset: 0, hash };
    }
    if (size > 0) {
      for await (const block of createReadStream(path, { start: 0, end: size - 1 }))
        hash.update(block as Buffer);
    }
    return { offset: size, hash };
  }
}

function checkSha(sha: string): void {
  if (!SHA256.test(sha))
    throw new InvalidArgumentError('sha256', `must be 64 lower-case hex digits, got '${sha}'`);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += (await handle.write(data, written, data.length - written)).bytesWritten;
  }
}

/** Waits for another caller's download of the same artifact, giving up (only this wait) on abort. */
async function abortable(promise: Promise<string>, sha256: string, signal?: AbortSignal): Promise<string> {
  if (!signal) return promise;
  const message = `wait for the running install of artifact ${sha256} cancelled`;
  if (signal.aborted) throw new InstallCancelledError(message);
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, rejectWait) => {
    onAbort = () => rejectWait(new InstallCancelledError(message, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function readState(path: string): Map<string, Release> {
  if (!existsSync(path)) return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ModelStoreStateError(
      path,
      `not valid JSON (${toError(cause).message}); fix or remove it to start empty`,
      {
        cause,
      },
    );
  }
  const invalid = (what: string) =>
    new ModelStoreStateError(path, `${what}; fix or remove it to start empty`);
  if (!isRecord(parsed) || parsed.version !== 1 || !isRecord(parsed.models)) {
    throw invalid('not a model store state (expected {"version": 1, "models": {...}})');
  }
  const isLadder = (value: unknown): value is string[] =>
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((sha) => typeof sha === 'string' && SHA256.test(sha));
  const models = new Map<string, Release>();
  for (const [model, release] of Object.entries(parsed.models)) {
    if (!isRecord(release) || !isLadder(release.current))
      throw invalid(`model '${model}': current release is not a list of sha256`);
    if (release.previous !== undefined && !isLadder(release.previous))
      throw invalid(`model '${model}': previous release is not a list of sha256`);
    const id = (key: 'deployment' | 'previousDeployment') => {
      const value = release[key];
      if (value !== undefined && typeof value !== 'string')
        throw invalid(`model '${model}': ${key} is not a string`);
      return value;
    };
    models.set(model, {
      current: release.current,
      deployment: id('deployment'),
      ...(release.previous !== undefined && {
        previous: release.previous,
        previousDeployment: id('previousDeployment'),
      }),
    });
  }
  return models;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
