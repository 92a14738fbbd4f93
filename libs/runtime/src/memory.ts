import { fork } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceError } from './errors';
import { type SessionOptions, toOrtSessionOptions, withSessionDefaults } from './session';

export interface MemoryMeasurement {
  /** Resident bytes the model adds to a process: RSS after session creation and a first run, minus before. */
  readonly addedBytes: number;
  /** Of which, added by creating the session (weights, graph, initialisation). */
  readonly sessionBytes: number;
  /** Of which, added by the first run (activation buffers, arena growth). */
  readonly firstRunBytes: number;
  readonly rssBeforeBytes: number;
  readonly artifactBytes: number;
  readonly enableCpuMemArena: boolean;
  readonly enableMemPattern: boolean;
  readonly intraOpThreads: number;
}

/**
 * Measures the resident memory a model adds, in a fresh child process so that measurements do not
 * pollute each other (onnxruntime's arena and the allocator keep memory after a session is released).
 * @param inputDims concrete dims per graph input (symbolic dims must be resolved by the caller)
 */
export function measureModelMemory(
  modelPath: string,
  inputDims: Readonly<Record<string, readonly number[]>>,
  options: SessionOptions = {},
  timeoutMs = 120_000,
): Promise<MemoryMeasurement> {
  const resolved = withSessionDefaults(options);
  const sessionOptions = toOrtSessionOptions(resolved);
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'memory-probe-child.cjs'), [], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new InferenceError(modelPath, `memory probe timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once(
      'message',
      (reply: {
        ok: boolean;
        message?: string;
        rssBeforeBytes: number;
        rssAfterCreateBytes: number;
        rssAfterRunBytes: number;
      }) => {
        clearTimeout(timer);
        child.kill();
        if (!reply.ok) {
          reject(new InferenceError(modelPath, `memory probe failed: ${reply.message}`));
          return;
        }
        resolve({
          addedBytes: reply.rssAfterRunBytes - reply.rssBeforeBytes,
          sessionBytes: reply.rssAfterCreateBytes - reply.rssBeforeBytes,
          firstRunBytes: reply.rssAfterRunBytes - reply.rssAfterCreateBytes,
          rssBeforeBytes: reply.rssBeforeBytes,
          artifactBytes: statSync(modelPath).size,
          enableCpuMemArena: resolved.enableCpuMemArena,
          enableMemPattern: resolved.enableMemPattern,
          intraOpThreads: resolved.intraOpThreads,
        });
      },
    );
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new InferenceError(modelPath, `memory probe could not start: ${error.message}`, { cause: error }),
      );
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0 && code !== null)
        reject(new InferenceError(modelPath, `memory probe exited with code ${code}`));
    });
    child.send({ modelPath, inputDims, sessionOptions });
  });
}
