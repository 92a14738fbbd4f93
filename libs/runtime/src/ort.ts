import type * as Ort from 'onnxruntime-node';

let loaded: typeof Ort | undefined;

/**
 * onnxruntime-node, loaded on first use: a process that never runs a model (an idle agent) does not
 * pay for its native library (about 12 MB resident, measured here).
 */
export function ort(): typeof Ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('onnxruntime-node') as typeof Ort);
}
