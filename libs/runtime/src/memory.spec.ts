import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelBuilder, writeModel } from '@blinknet/onnx';
import { measureModelMemory } from './memory';

describe('measureModelMemory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blinknet-memory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function fcModel(name: string, width: number): string {
    const b = new ModelBuilder({ name });
    const x = b.input('x', [1, width]);
    b.output(b.gemm(b.relu(b.gemm(x, 'fc1', width), 'relu'), 'fc2', width));
    const path = join(dir, `${name}.onnx`);
    writeModel(path, b.build());
    return path;
  }

  it('sees a model with 8x the weights add more resident memory, in a fresh process', async () => {
    const small = await measureModelMemory(fcModel('small', 512), { x: [1, 512] });
    const large = await measureModelMemory(fcModel('large', 2048), { x: [1, 2048] }); // 2 x 16 MB of weights
    expect(small.artifactBytes).toBeGreaterThan(2 * 512 * 512 * 4);
    expect(large.addedBytes - small.addedBytes).toBeGreaterThan(
      0.5 * (large.artifactBytes - small.artifactBytes),
    );
    expect(large.enableCpuMemArena).toBe(true);
    expect(large.samples).toBe(5);
    expect(large.sessionBytes + large.firstRunBytes).toBe(large.addedBytes);
  }, 60_000);

  it('reports a model onnxruntime cannot load', async () => {
    const bad = join(dir, 'corrupt.onnx');
    writeFileSync(bad, 'not a model');
    await expect(measureModelMemory(bad, { x: [1, 4] }, {}, { samples: 1 })).rejects.toThrow(
      /corrupt\.onnx: memory probe failed/,
    );
    await expect(measureModelMemory(bad, { x: [1, 4] }, {}, { samples: 0 })).rejects.toThrow(
      /samples: must be a whole number >= 1/,
    );
  }, 60_000);
});
