// Jest runs each test file in its own JS realm, whose typed-array constructors differ from the host
// realm's. onnxruntime-node's native binding checks `instanceof Float32Array` against the host's and
// rejects tensors built in the test realm, so expose the host constructors to tests.
const { TestEnvironment } = require('jest-environment-node');

const HOST_BINARY_TYPES = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class HostTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of HOST_BINARY_TYPES) this.global[name] = globalThis[name];
  }
}

module.exports = HostTypedArrayEnvironment;
