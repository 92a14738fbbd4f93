import { fork } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@blinknet/core';
import { InferenceError } from './errors';
import { type SessionOptions, toOrtSessionOptions, withSessionDefaults } from './session';

export interface MemoryMeasurement {
  /**
   * Resident bytes the model adds to a process: RSS after session creation and a first run, minus
   * before; the most of `samples` loads, each in a fresh process.
   */
  readonly addedBytes: number;
  readonly samples: number;
  /** Of the most, added by creating the session (weights, graph, initialisation). */
  readonly sessionBytes: number;
  /** Of the most, added by the first run (activation buffers, arena growth). */
  readonly firstRunBytes: number;
  readonly rssBeforeBytes: number;
  readonly artifactBytes: number;
  readonly enableCpuMemArena: boolean;
  readonly enableMemPattern: boolean;
  readonly intraOpThreads: number;
}

/**
 * Loads of a model measured, each in a fresh process. One load is not enough: glibc adjusts its mmap
 * threshold as a process frees large blocks, so a temporary buffer of session creation is sometimes
 * returned to the system and sometimes kept; VGG-style at 2 threads added 38.7-39.0 MB in 3 loads
 * of 10 and 41.0-41.3 MB in the other 7 here. The most of 5 is the figure a bound can trust (all 5
 * low: 0.24% at that rate), for 0.1 s a load of a small model (VGG16: about 1 s).
 */
export const MEMORY_SAMPLES = 5;

interface ProbeReply {
  ok: boolean;
  message?: string;
  rssBeforeBytes: number;
  rssAfterCreateBytes: number;
  rssAfterRunBytes: number;
}

/**
 * Measures the resident memory a model adds, in fresh child processes so that measurements do not
 * pollute each other (onnxruntime's arena and the allocator keep memory after a session is released).
 * @param inputDims concrete dims per graph input (symbolic dims must be resolved by the caller)
 * @param samples loads measured, one after another (`timeoutMs` is per load)
 */
export async function measureModelMemory(
  modelPath: string,
  inputDims: Readonly<Record<string, readonly number[]>>,
  options: SessionOptions = {},
  { samples = MEMORY_SAMPLES, timeoutMs = 120_000 }: { samples?: number; timeoutMs?: number } = {},
): Promise<MemoryMeasurement> {
  if (!Number.isInteger(samples) || samples < 1)
    throw new InvalidArgumentError('samples', `must be a whole number >= 1, got ${samples}`);
  const resolved = withSessionDefaults(options);
  const job = { modelPath, inputDims, sessionOptions: toOrtSessionOptions(resolved) };
  const replies: ProbeReply[] = [];
  // One after another: loads measured at once would share the cores and slow each other.
  while (replies.length < samples) replies.push(await probe(job, timeoutMs));
  const added = (r: ProbeReply) => r.rssAfterRunBytes - r.rssBeforeBytes;
  const most = replies.reduce((a, b) => (added(b) > added(a) ? b : a));
  return {
    addedBytes: added(most),
    samples: replies.length,
    sessionBytes: most.rssAfterCreateBytes - most.rssBeforeBytes,
    firstRunBytes: most.rssAfterRunBytes - most.rssAfterCreateBytes,
    rssBeforeBytes: most.rssBeforeBytes,
    artifactBytes: statSync(modelPath).size,
    enableCpuMemArena: resolved.enableCpuMemArena,
    enableMemPattern: resolved.enableMemPattern,
    intraOpThreads: resolved.intraOpThreads,
  };
}

/** One load of the model in a fresh process. */
function probe(job: { modelPath: string }, timeoutMs: number): Promise<ProbeReply> {
  const { modelPath } = job;
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'memory-probe-child.cjs'), [], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new InferenceError(modelPath, `memory probe timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('message', (reply: ProbeReply) => {
      clearTimeout(timer);
      child.kill();
      if (reply.ok) resolve(reply);
      else reject(new InferenceError(modelPath, `memory probe failed: ${reply.message}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new InferenceError(modelPath, `memory probe could not start: ${error.message}`, { cause: error }),
      );
    });
    // After a reply this rejects nothing; before one (a crash, the OOM killer) it ends the wait.
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new InferenceError(modelPath, `memory probe exited (${code ?? signal}) before replying`));
    });
    child.send(job);
  });
}
