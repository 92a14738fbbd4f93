/**
 * `npm run bench:profile`: how long the agent takes to profile a model's full option ladder on this
 * machine (CIFAR-10-quick, VGG16), and how repeatable a layer's median is across 5 profiles.
 * Saves tools/bench/results/<date>/profile-<threads>-thread.json.
 */
import { parseArgs } from 'node:util';
import { profileModel } from '@blinknet/agent';
import { optionLadder } from '@blinknet/approx';
import { type ModelProto } from '@blinknet/onnx';
import { buildNetwork } from '@blinknet/zoo';
import { median, saveResults } from './machine';
import { progress } from './progress';

const { values } = parseArgs({
  options: {
    threads: { type: 'string' },
    'skip-vgg16': { type: 'boolean' },
    'ladders-only': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(
    'usage: npm run bench:profile -- [--threads N (default 1, as the agent)] [--skip-vgg16] [--ladders-only]',
  );
  process.exit(0);
}
const THREADS = Number(values.threads ?? 1);

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
  const profile = await profileModel(
    { model, options },
    {
      session: { intraOpThreads: THREADS },
      onProgress: progress(name),
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

/** CV of each (layer, option)'s median across `repeats` profiles of the same job. */
async function repeatability(
  name: 'cifar10-quick' | 'vgg16',
  options: Record<string, string[]>,
  repeats = 5,
) {
  const model = buildNetwork(name);
  const medians = new Map<string, number[]>();
  for (let i = 0; i < repeats; i++) {
    const profile = await profileModel({ model, options }, { session: { intraOpThreads: THREADS } });
    for (const m of profile.layers.filter((l) => !l.sameStructureAs)) {
      const key = `${m.layer} ${m.option}`;
      medians.set(key, [...(medians.get(key) ?? []), m.stats.medianMs]);
    }
    console.log(`  repeatability of ${name}: profile ${i + 1}/${repeats} done`);
  }
  const rows = [...medians].map(([key, values]) => {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
    return { key, medians: values, cv: sd / mean };
  });
  const cvs = rows.map((r) => r.cv).sort((a, b) => a - b);
  // Noise is relative to a layer's time: report by how long one run takes.
  const bucket = (lo: number, hi: number) => {
    const inside = rows.filter((r) => median(r.medians) >= lo && median(r.medians) < hi);
    return { lo, hi, items: inside.length, medianCv: inside.length ? median(inside.map((r) => r.cv)) : null };
  };
  const summary = {
    model: name,
    repeats,
    byLayerTimeMs: [bucket(0, 0.1), bucket(0.1, 1), bucket(1, Infinity)],
    items: rows.length,
    medianCv: median(cvs),
    p90Cv: cvs[Math.floor(0.9 * (cvs.length - 1))],
    worst: rows.reduce((a, b) => (b.cv > a.cv ? b : a)),
    within5Percent: rows.filter((r) => r.cv <= 0.05).length,
  };
  console.log(
    `${name}: repeatability over ${repeats} profiles: by layer time ${summary.byLayerTimeMs.map((b) => `[${b.lo}, ${b.hi}) ms: ${b.items} items, median CV ${b.medianCv === null ? '-' : (100 * b.medianCv).toFixed(1)}%`).join('; ')}; overall median CV ${(100 * summary.medianCv).toFixed(2)}%, p90 ${(100 * summary.p90Cv).toFixed(2)}%, ${summary.within5Percent}/${rows.length} items <= 5%; worst ${summary.worst.key} ${(100 * summary.worst.cv).toFixed(1)}% (${summary.worst.medians.map((m) => m.toFixed(4)).join(', ')} ms)`,
  );
  return { ...summary, rows };
}

async function main(): Promise<void> {
  const cifar = await ladderProfile('cifar10-quick');
  const repeat = values['ladders-only']
    ? []
    : [await repeatability('cifar10-quick', ladderOptions(buildNetwork('cifar10-quick')))];
  if (!values['skip-vgg16'] && !values['ladders-only']) {
    const some = ['exact', 'lowrank:r=64', 'prune:keep=0.5', 'int8:compute'];
    repeat.push(
      await repeatability('vgg16', { conv3_1: some, conv4_2: some, fc7: ['exact', 'int8:compute'] }),
    );
  }
  const ladders = [cifar, ...(values['skip-vgg16'] ? [] : [await ladderProfile('vgg16')])];
  const path = saveResults(`profile-${THREADS}-thread${values['ladders-only'] ? '-ladders' : ''}`, {
    threads: THREADS,
    ladders,
    repeatability: repeat,
  });
  console.log(`saved ${path}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
