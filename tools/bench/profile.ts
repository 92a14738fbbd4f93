/**
 * `npm run bench:profile`: how long the agent takes to profile a model's full option ladder on this
 * machine (CIFAR-10-quick, VGG16), and how repeatable a layer's median is across 5 profiles.
 * Saves tools/bench/results/<date>/profile.json.
 */
import { profileModel } from '@blinknet/agent';
import { optionLadder } from '@blinknet/approx';
import { type ModelProto } from '@blinknet/onnx';
import { buildNetwork } from '@blinknet/zoo';
import { median, saveResults } from './machine';

const THREADS = 2;

function ladderOptions(model: ModelProto): Record<string, string[]> {
  return Object.fromEntries(
    [...optionLadder(model)].map(([layer, costs]) => [layer, costs.map((c) => c.option)]),
  );
}

async function ladderProfile(name: 'cifar10-quick' | 'vgg16') {
  const model = buildNetwork(name);
  const options = ladderOptions(model);
  const count = Object.values(options).flat().length;
  const start = performance.now();
  let lastLine = 0;
  const profile = await profileModel(
    { model, options },
    {
      session: { intraOpThreads: THREADS },
      onProgress: (done, total, label) => {
        if (performance.now() - lastLine > 5000 || done === total) {
          console.log(`  ${name}: ${done}/${total} ${label}`);
          lastLine = performance.now();
        }
      },
    },
  );
  const seconds = (performance.now() - start) / 1000;
  const exactSum = profile.layers
    .filter((m) => m.option === 'exact')
    .reduce((s, m) => s + m.stats.medianMs, 0);
  console.log(
    `${name}: ${count} options profiled in ${seconds.toFixed(1)} s; end-to-end median ${profile.endToEnd.stats.medianMs.toFixed(2)} ms, sum of isolated exact layers ${exactSum.toFixed(2)} ms`,
  );
  return {
    name,
    options: count,
    seconds,
    endToEnd: profile.endToEnd,
    exactLayerSumMs: exactSum,
    layers: profile.layers,
  };
}

async function repeatability(layer: string, option: string, repeats = 5) {
  const model = buildNetwork('cifar10-quick');
  const medians: number[] = [];
  // The first sessions of a process run slower (JIT, clocks ramping up): one profile is discarded.
  await profileModel({ model, options: { [layer]: [option] } }, { session: { intraOpThreads: THREADS } });
  for (let i = 0; i < repeats; i++) {
    const profile = await profileModel(
      { model, options: { [layer]: [option] } },
      { session: { intraOpThreads: THREADS } },
    );
    medians.push(profile.layers[0].stats.medianMs);
  }
  const mean = medians.reduce((a, b) => a + b, 0) / medians.length;
  const sd = Math.sqrt(medians.reduce((a, b) => a + (b - mean) ** 2, 0) / (medians.length - 1));
  console.log(
    `repeatability of ${layer} ${option}: medians ${medians.map((m) => m.toFixed(4)).join(', ')} ms, CV ${((100 * sd) / mean).toFixed(2)}%`,
  );
  return { layer, option, medians, medianOfMedians: median(medians), cv: sd / mean };
}

async function main(): Promise<void> {
  const cifar = await ladderProfile('cifar10-quick');
  const repeat = [await repeatability('conv2', 'exact'), await repeatability('conv2', 'lowrank:r=8')];
  const vgg = await ladderProfile('vgg16');
  const path = saveResults('profile', { threads: THREADS, ladders: [cifar, vgg], repeatability: repeat });
  console.log(`saved ${path}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
