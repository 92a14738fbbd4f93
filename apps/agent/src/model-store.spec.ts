import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotFoundError } from '@blinknet/core';
import { encodeModel, ModelBuilder } from '@blinknet/onnx';
import { ModelSession } from '@blinknet/runtime';
import {
  type ArtifactChunk,
  ArtifactDownloadError,
  type ArtifactRef,
  ArtifactRejectedError,
  type ArtifactSource,
  InstallCancelledError,
  ModelStore,
  type ModelStoreOptions,
  ModelStoreStateError,
  StorageBoundError,
} from './model-store';

const CHUNK = 4096;

/** A small real ONNX model (one conv); seeds make every model's bytes, and so its sha256, distinct. */
function onnxModel(seed: number, outChannels = 32): Uint8Array {
  const b = new ModelBuilder({ name: `m${seed}`, seed });
  const x = b.input('x', [1, 16, 8, 8]);
  b.output(b.conv(x, { name: 'conv', outChannels, kernel: 3, pad: 1 }));
  return encodeModel(b.build());
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function ref(bytes: Uint8Array): ArtifactRef {
  return { sha256: sha256(bytes), bytes: bytes.length };
}

/** Serves artifacts from memory in 4 KiB chunks; `disconnectAt[i]`: the next fetch throws at that byte. */
class MemorySource implements ArtifactSource {
  readonly #artifacts = new Map<string, Uint8Array>();
  /** Offset each fetch started from, in order. */
  readonly fetches: number[] = [];
  disconnectAt: number[] = [];

  /** Serves `bytes` under `sha` (by default their real sha256; a test may lie). */
  add(bytes: Uint8Array, sha = sha256(bytes)): this {
    this.#artifacts.set(sha, bytes);
    return this;
  }

  async *fetch(sha: string, offset: number): AsyncIterable<ArtifactChunk> {
    this.fetches.push(offset);
    const bytes = this.#artifacts.get(sha);
    if (!bytes) throw new Error(`unknown artifact ${sha}`);
    const cut = this.disconnectAt.shift();
    for (let at = offset; at < bytes.length; at += CHUNK) {
      if (cut !== undefined && at >= cut) throw new Error('connection reset by peer');
      yield { offset: at, data: bytes.subarray(at, at + CHUNK), totalBytes: bytes.length, sha256: sha };
    }
  }
}

async function validate(path: string): Promise<void> {
  await (await ModelSession.create(readFileSync(path))).dispose();
}

describe('ModelStore', () => {
  const root = mkdtempSync(join(tmpdir(), 'blinknet-model-store-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const freshDir = () => join(root, `store-${++n}`);
  const open = (dir: string, options: Partial<ModelStoreOptions> = {}) =>
    ModelStore.open(dir, { validate, retryDelayMs: 1, ...options });

  const a1 = onnxModel(1);
  const a2 = onnxModel(2, 16);
  const b = onnxModel(3);
  const c = onnxModel(4);
  const source = () => new MemorySource().add(a1).add(a2).add(b).add(c);

  it('installs, activates and rolls back, and keeps it across a restart', async () => {
    const dir = freshDir();
    const src = source();
    const store = await open(dir);
    const path = await store.install(ref(a1), src);
    expect(readFileSync(path)).toEqual(Buffer.from(a1));
    expect(statSync(path).mode & 0o222).toBe(0); // read-only
    expect(await store.install(ref(a1), src)).toBe(path); // already there: no new fetch
    expect(src.fetches).toEqual([0]);
    await store.install(ref(a2), src);
    await store.install(ref(b), src);

    store.activate('cnn', [sha256(a1), sha256(a2)], 'deployment-1');
    expect(store.release('cnn')?.current.map((x) => x.sha256)).toEqual([sha256(a1), sha256(a2)]);
    store.activate('cnn', [sha256(b)], 'deployment-2');
    expect(store.release('cnn')).toEqual({
      current: [{ sha256: sha256(b), path: join(dir, 'artifacts', `${sha256(b)}.onnx`) }],
      deployment: 'deployment-2',
      previous: [
        { sha256: sha256(a1), path: join(dir, 'artifacts', `${sha256(a1)}.onnx`) },
        { sha256: sha256(a2), path: join(dir, 'artifacts', `${sha256(a2)}.onnx`) },
      ],
    });

    const reopened = await open(dir);
    expect(reopened.models()).toEqual(['cnn']);
    expect(reopened.release('cnn')).toEqual(store.release('cnn'));
    expect(reopened.usedBytes()).toBe(a1.length + a2.length + b.length);

    const restored = reopened.rollback('cnn');
    expect(restored.map((x) => x.sha256)).toEqual([sha256(a1), sha256(a2)]);
    for (const { path: p } of restored) await validate(p);
    expect(reopened.release('cnn')?.previous).toBeUndefined();
    expect(reopened.release('cnn')?.deployment).toBe('deployment-1');
    expect(() => reopened.rollback('cnn')).toThrow(/no previous release/);
    expect((await open(dir)).release('cnn')?.current.map((x) => x.sha256)).toEqual([sha256(a1), sha256(a2)]);

    expect(() => reopened.activate('cnn', [sha256(c)])).toThrow(NotFoundError);
    expect(reopened.release('cnn')?.current).toHaveLength(2);
  }, 60_000);

  it('resumes after a disconnect from the offset reached, not from 0', async () => {
    const src = source();
    src.disconnectAt = [3 * CHUNK];
    const progress: number[] = [];
    const store = await open(freshDir(), { onProgress: (_sha, bytes) => progress.push(bytes) });
    const path = await store.install(ref(a1), src);
    expect(src.fetches).toEqual([0, 3 * CHUNK]);
    expect(readFileSync(path)).toEqual(Buffer.from(a1));
    expect(progress.at(-1)).toBe(a1.length);
    expect(existsSync(path.replace(/\.onnx$/, '.partial'))).toBe(false);
  }, 60_000);

  it('resumes a partial download in a new instance after a restart', async () => {
    const dir = freshDir();
    const src = source();
    src.disconnectAt = [2 * CHUNK];
    const first = await open(dir, { maxAttempts: 1 });
    await expect(first.install(ref(a1), src)).rejects.toThrow(ArtifactDownloadError);
    const partial = join(dir, 'artifacts', `${sha256(a1)}.partial`);
    expect(statSync(partial).size).toBe(2 * CHUNK);
    expect(first.installedPath(sha256(a1))).toBeUndefined();

    const second = await open(dir);
    expect(second.usedBytes()).toBe(2 * CHUNK); // the partial is kept and counted
    const path = await second.install(ref(a1), src);
    expect(src.fetches).toEqual([0, 2 * CHUNK]);
    expect(readFileSync(path)).toEqual(Buffer.from(a1));
    expect(existsSync(partial)).toBe(false);
  }, 60_000);

  it('stops on abort and keeps the partial for a later resume', async () => {
    const dir = freshDir();
    const src = source();
    const controller = new AbortController();
    const store = await open(dir, {
      onProgress: (_sha, bytes) => (bytes >= 2 * CHUNK ? controller.abort() : undefined),
    });
    await expect(store.install(ref(a1), src, controller.signal)).rejects.toThrow(InstallCancelledError);
    expect(statSync(join(dir, 'artifacts', `${sha256(a1)}.partial`)).size).toBe(2 * CHUNK);

    const path = await (await open(dir)).install(ref(a1), src);
    expect(src.fetches).toEqual([0, 2 * CHUNK]);
    expect(readFileSync(path)).toEqual(Buffer.from(a1));
  }, 60_000);

  it('refetches from 0 once when a partial left by an earlier process does not hash right', async () => {
    const dir = freshDir();
    const store = await open(dir);
    // What a power cut can leave: the file's length survived, its last bytes did not.
    const stale = Buffer.from(a1.subarray(0, 3 * CHUNK));
    stale.fill(0, 2 * CHUNK);
    writeFileSync(join(dir, 'artifacts', `${sha256(a1)}.partial`), stale);
    const src = source();
    const path = await store.install(ref(a1), src);
    expect(src.fetches).toEqual([3 * CHUNK, 0]);
    expect(readFileSync(path)).toEqual(Buffer.from(a1));
  }, 60_000);

  it('fetches an artifact again when a chunk arrived corrupted', async () => {
    const store = await open(freshDir());
    let first = true;
    const src = source();
    const corrupting: ArtifactSource = {
      async *fetch(sha, offset, signal) {
        for await (const chunk of src.fetch(sha, offset)) {
          if (first && chunk.offset === CHUNK) {
            first = false;
            const data = Uint8Array.from(chunk.data);
            data[7] ^= 0x01;
            yield { ...chunk, data };
          } else yield chunk;
          if (signal?.aborted) return;
        }
      },
    };
    const path = await store.install(ref(a1), corrupting);
    expect(src.fetches).toEqual([0, 0]);
    expect(readFileSync(path)).toEqual(Buffer.from(a1));
  }, 60_000);

  it('rejects bytes whose sha256 is wrong and keeps the active release', async () => {
    const dir = freshDir();
    const store = await open(dir);
    const src = source();
    await store.install(ref(a1), src);
    store.activate('cnn', [sha256(a1)]);

    const tampered = Uint8Array.from(b);
    tampered[tampered.length - 1] ^= 0xff;
    src.add(tampered, sha256(b)); // the source serves other bytes under b's hash
    const install = store.install(ref(b), src);
    await expect(install).rejects.toThrow(ArtifactRejectedError);
    expect(src.fetches).toEqual([0, 0, 0]); // a1, then b twice: fetched again before it is rejected
    await expect(install).rejects.toThrow(
      new RegExp(`artifact ${sha256(b)} rejected: sha256 .* is ${sha256(tampered)}, expected ${sha256(b)}`),
    );
    expect(store.installedPath(sha256(b))).toBeUndefined();
    expect(existsSync(join(dir, 'artifacts', `${sha256(b)}.partial`))).toBe(false);
    expect(store.usedBytes()).toBe(a1.length);

    const active = (await open(dir)).release('cnn');
    expect(active?.current.map((x) => x.sha256)).toEqual([sha256(a1)]);
    await validate(active!.current[0].path);
  }, 60_000);

  it('rejects a file that onnxruntime cannot load, even with the right sha256', async () => {
    const dir = freshDir();
    const junk = randomBytes(3 * CHUNK + 100);
    const store = await open(dir);
    const install = store.install(ref(junk), new MemorySource().add(junk));
    await expect(install).rejects.toThrow(ArtifactRejectedError);
    await expect(install).rejects.toThrow(/onnxruntime cannot load it/);
    expect(store.installedPath(sha256(junk))).toBeUndefined();
    expect(store.usedBytes()).toBe(0);
    expect(existsSync(join(dir, 'artifacts', `${sha256(junk)}.partial`))).toBe(false);
  }, 60_000);

  it('evicts the previous release when a new artifact needs its room', async () => {
    const dir = freshDir();
    const src = source();
    // Room for two models, not three.
    const store = await open(dir, { maxBytes: a1.length + b.length + c.length - 1 });
    await store.install(ref(a1), src);
    store.activate('cnn', [sha256(a1)]);
    await store.install(ref(b), src);
    store.activate('cnn', [sha256(b)]);
    expect(store.release('cnn')?.previous).toHaveLength(1);

    await store.install(ref(c), src);
    expect(store.release('cnn')?.previous).toBeUndefined();
    expect(store.installedPath(sha256(a1))).toBeUndefined();
    expect(existsSync(join(dir, 'artifacts', `${sha256(a1)}.onnx`))).toBe(false);
    expect(store.usedBytes()).toBe(b.length + c.length);
    expect((await open(dir)).release('cnn')?.previous).toBeUndefined(); // the drop was persisted
  }, 60_000);

  it('refuses, without downloading, an artifact that cannot fit beside the current release', async () => {
    const dir = freshDir();
    const src = source();
    const bound = a1.length + c.length - 1;
    const store = await open(dir, { maxBytes: bound });
    await store.install(ref(a1), src);
    store.activate('cnn', [sha256(a1)]);
    const install = store.install(ref(c), src);
    await expect(install).rejects.toThrow(StorageBoundError);
    await expect(install).rejects.toMatchObject({ neededBytes: a1.length + c.length, boundBytes: bound });
    expect(src.fetches).toEqual([0]); // only a1's
    expect(store.release('cnn')?.current.map((x) => x.sha256)).toEqual([sha256(a1)]);
    expect(store.usedBytes()).toBe(a1.length);
  }, 60_000);

  it("keeps installed, not yet activated artifacts when another model's release is activated", async () => {
    const store = await open(freshDir());
    const src = source();
    await store.install(ref(a1), src);
    await store.install(ref(b), src);
    store.activate('first', [sha256(a1)]);
    expect(store.installedPath(sha256(b))).toBeDefined();
    store.activate('second', [sha256(b)]);
    expect(store.models().sort()).toEqual(['first', 'second']);
  }, 60_000);

  it('discards a release that cannot be served: the previous one serves again, the files go', async () => {
    const dir = freshDir();
    const store = await open(dir);
    const src = source();
    for (const bytes of [a1, b, c]) await store.install(ref(bytes), src);
    store.activate('cnn', [sha256(a1)], 'deployment-1');
    store.activate('cnn', [sha256(b), sha256(c)], 'deployment-2');

    const reopened = await open(dir);
    expect(reopened.discard('cnn')).toEqual({
      deployment: 'deployment-2',
      current: [{ sha256: sha256(a1), path: join(dir, 'artifacts', `${sha256(a1)}.onnx`) }],
    });
    expect(reopened.release('cnn')).toEqual({
      current: [{ sha256: sha256(a1), path: join(dir, 'artifacts', `${sha256(a1)}.onnx`) }],
      deployment: 'deployment-1',
    });
    expect(reopened.installedPath(sha256(b))).toBeUndefined();
    expect(existsSync(join(dir, 'artifacts', `${sha256(c)}.onnx`))).toBe(false);
    expect(reopened.usedBytes()).toBe(a1.length);
    // Fetched again by a later install.
    await reopened.install(ref(b), src);
    expect(src.fetches).toHaveLength(4);

    // With no previous release, the model has none left (nothing stale is served).
    expect(reopened.discard('cnn')).toEqual({ deployment: 'deployment-1', current: undefined });
    expect((await open(dir)).models()).toEqual([]);
    expect(() => reopened.discard('cnn')).toThrow(NotFoundError);
  }, 60_000);

  it('refuses a corrupt state.json with a clear error instead of starting empty', async () => {
    const dir = freshDir();
    const store = await open(dir);
    await store.install(ref(a1), source());
    store.activate('cnn', [sha256(a1)]);
    const statePath = join(dir, 'state.json');
    const good = readFileSync(statePath, 'utf8');

    writeFileSync(statePath, good.slice(0, good.length / 2));
    await expect(open(dir)).rejects.toThrow(ModelStoreStateError);
    await expect(open(dir)).rejects.toThrow(/state\.json: not valid JSON/);
    expect(readFileSync(statePath, 'utf8')).toBe(good.slice(0, good.length / 2)); // left for a person

    writeFileSync(statePath, JSON.stringify({ version: 1, models: { cnn: { current: ['nope'] } } }));
    await expect(open(dir)).rejects.toThrow(/model 'cnn': current release is not a list of sha256/);

    writeFileSync(statePath, good);
    expect((await open(dir)).release('cnn')?.current).toHaveLength(1);
  }, 60_000);
});
