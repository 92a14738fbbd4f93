/**
 * The evaluation's report: summary figures against the targets, a table per cell, the infeasible
 * cells, and two PNG plots rendered with Vega-Lite (accuracy loss against the latency bound; the
 * planner's predicted latency against the measured one). Written beside the results JSON as eval.md;
 * a full run (but an --uncalibrated one) is also written to docs/evaluation.md with its plots under
 * docs/evaluation/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as prettier from 'prettier';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Cell, EvalResults, Measured, Outcome, Round } from './eval';
import { samePlan } from '@blinknet/planner';
import { quantile } from '@blinknet/runtime';
import { median } from './machine';

const DOCS = join(__dirname, '..', '..', 'docs');

const last = (o: Outcome): Round | undefined => o.rounds[o.rounds.length - 1];
const allMet = (r: Round | undefined) => r !== undefined && r.met.latency && r.met.memory && r.met.storage;
const sum = (measured: Readonly<Record<string, Measured>>, key: 'p95Ms' | 'memoryBytes' | 'storageBytes') =>
  Object.values(measured).reduce((n, m) => n + m[key], 0);
const pct = (n: number, of: number) => (of === 0 ? '-' : `${((100 * n) / of).toFixed(0)}% (${n}/${of})`);

/** Mean held-out accuracy loss (points) over the cell's trained models; undefined for untrained ones. */
function accuracyLoss(results: EvalResults, round: Round): number | undefined {
  const losses = Object.entries(round.measured).flatMap(([id, m]) => {
    const original = results.models.find((x) => x.id === id)!.original.accuracy;
    return original === undefined || m.accuracy === undefined ? [] : [(original - m.accuracy) * 100];
  });
  return losses.length === 0 ? undefined : losses.reduce((a, b) => a + b, 0) / losses.length;
}

interface Row {
  readonly cell: Cell;
  readonly outcome: Outcome;
  readonly first?: Round;
  readonly final?: Round;
  readonly loss?: number;
  readonly speedup?: number;
}

function rows(results: EvalResults): Row[] {
  return results.outcomes.map((outcome) => {
    const cell = results.cells.find((c) => c.id === outcome.cell)!;
    const final = last(outcome);
    const original = cell.models.reduce(
      (n, id) => n + results.models.find((m) => m.id === id)!.original.p95Ms,
      0,
    );
    return {
      cell,
      outcome,
      first: outcome.rounds[0],
      final,
      loss: final && accuracyLoss(results, final),
      speedup: final && original / sum(final.measured, 'p95Ms'),
    };
  });
}

/**
 * Relative error of the planner's whole-model latency (or of its uncalibrated cost model's) against
 * the measured p95, per model of round 1.
 */
function predictionErrors(all: readonly Row[], of: 'predictedMs' | 'costModelMs' = 'predictedMs') {
  return all.flatMap((r) =>
    r.first
      ? Object.entries(r.first[of]).map(([id, predicted]) => ({
          model: id,
          strategy: r.outcome.strategy,
          predicted,
          measured: r.first!.measured[id].p95Ms,
          error: Math.abs(predicted / r.first!.measured[id].p95Ms - 1),
        }))
      : [],
  );
}

/** Measured / predicted at the median, 90th and 95th percentiles. */
function ratioQuantiles(errors: ReturnType<typeof predictionErrors>): string {
  const ratios = errors.map((e) => e.measured / e.predicted).sort((a, b) => a - b);
  return [0.5, 0.9, 0.95].map((q) => `${q * 100}th percentile ${quantile(ratios, q).toFixed(3)}`).join(', ');
}

function summaryTable(all: readonly Row[], strategies: readonly string[]): string[] {
  const lines = [
    '| strategy | cells | planned | met, 1st deployment | met, after the loop | met, of all cells | latency met 1st / after | memory met | storage met | mean accuracy loss (met, trained) | mean speed-up (met) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of strategies) {
    const own = all.filter((r) => r.outcome.strategy === s);
    const planned = own.filter((r) => r.first);
    const of = (bound: Cell['bound']) => planned.filter((r) => r.cell.bound === bound);
    const met = own.filter((r) => allMet(r.final));
    const losses = met.flatMap((r) => (r.loss === undefined ? [] : [r.loss]));
    const speedups = met.flatMap((r) => (r.speedup === undefined ? [] : [r.speedup]));
    const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
    lines.push(
      `| ${s} | ${own.length} | ${planned.length} | ${pct(planned.filter((r) => allMet(r.first)).length, planned.length)} | ` +
        `${pct(met.length, planned.length)} | ${pct(met.length, own.length)} | ${pct(of('latency').filter((r) => r.first!.met.latency).length, of('latency').length)} / ` +
        `${pct(of('latency').filter((r) => r.final!.met.latency).length, of('latency').length)} | ` +
        `${pct(of('memory').filter((r) => r.final!.met.memory).length, of('memory').length)} | ` +
        `${pct(of('storage').filter((r) => r.final!.met.storage).length, of('storage').length)} | ` +
        `${losses.length ? `${mean(losses).toFixed(2)} pts (${losses.length} cells)` : '-'} | ` +
        `${speedups.length ? `${mean(speedups).toFixed(2)}x` : '-'} |`,
    );
  }
  return lines;
}

function figure(cell: Cell, round: Round): string {
  switch (cell.bound) {
    case 'latency':
      return `${sum(round.measured, 'p95Ms').toFixed(3)} / ${cell.bounds.latencyMs!.toFixed(3)} ms`;
    case 'memory':
      return `${(sum(round.measured, 'memoryBytes') / 1e6).toFixed(2)} / ${(cell.bounds.memoryBytes! / 1e6).toFixed(2)} MB`;
    case 'storage':
      return `${(sum(round.measured, 'storageBytes') / 1e6).toFixed(3)} / ${(cell.bounds.storageBytes! / 1e6).toFixed(3)} MB`;
  }
}

function cellTable(all: readonly Row[]): string[] {
  const lines = [
    '| cell | strategy | measured / bound (final) | met 1st | met | rounds | accuracy loss | speed-up | planning (BlinkNet: with its plan checks) | predicted / measured p95 (round 1) |',
    '|---|---|---:|:-:|:-:|---:|---:|---:|---:|---|',
  ];
  for (const r of all) {
    if (r.outcome.error) {
      lines.push(
        `| ${r.cell.id} | ${r.outcome.strategy} | failed: ${r.outcome.error} | - | - | - | - | - | - | - |`,
      );
      continue;
    }
    if (!r.final) {
      lines.push(
        `| ${r.cell.id} | ${r.outcome.strategy} | no plan: ${r.outcome.unreachable?.join(', ')} | - | - | - | - | - | - | - |`,
      );
      continue;
    }
    const ratio = Object.entries(r.first!.predictedMs)
      .map(([id, p]) => `${id} ${p.toFixed(3)}/${r.first!.measured[id].p95Ms.toFixed(3)}`)
      .join(', ');
    lines.push(
      `| ${r.cell.id} | ${r.outcome.strategy} | ${figure(r.cell, r.final)} | ${allMet(r.first) ? 'yes' : 'no'} | ` +
        `${allMet(r.final) ? 'yes' : '**no**'} | ${r.outcome.rounds.length} | ${r.loss === undefined ? '-' : `${r.loss.toFixed(2)} pts`} | ` +
        `${r.speedup!.toFixed(2)}x | ${r.outcome.rounds.reduce((n, x) => n + x.planningMs, 0).toFixed(0)} ms | ${ratio} |`,
    );
  }
  return lines;
}

/** Cells where BlinkNet and a baseline both met the bounds and the baseline kept more accuracy. */
function blinknetBehind(all: readonly Row[]): string[] {
  const lines: string[] = [];
  for (const r of all.filter(
    (x) => x.outcome.strategy === 'blinknet' && allMet(x.final) && x.loss !== undefined,
  )) {
    for (const other of all.filter(
      (x) =>
        x.cell.id === r.cell.id &&
        x.outcome.strategy !== 'blinknet' &&
        allMet(x.final) &&
        x.loss !== undefined,
    )) {
      if (other.loss! < r.loss! - 1e-9) {
        // Why: the plans as the accuracy model saw them (the solver's objective) against the held-out split.
        const predicted = (x: Row) =>
          Object.values(x.final!.predictedLoss ?? {}).reduce((a, b) => a + b, 0) / x.cell.models.length;
        const checked = r.final!.checked ?? [];
        const calibrationLoss = (c: (typeof checked)[number]) =>
          Object.values(c.loss).reduce((a, b) => a + b, 0) / r.cell.models.length;
        const same = checked.find((c) => samePlan(c, other.final!));
        const deployed = checked.find((c) => samePlan(c, r.final!));
        const why =
          same && deployed
            ? `BlinkNet checked that plan too (solved over ${same.over === 'all' ? 'every option' : `${same.over} only`}): it lost ${calibrationLoss(same).toFixed(2)} pts on the calibration split against ${calibrationLoss(deployed).toFixed(2)} for the plan deployed; the held-out split ranks the two the other way`
            : predicted(r) <= predicted(other)
              ? `the accuracy model (additive per-option flip rates) ranked BlinkNet's plan better (${predicted(r).toFixed(2)} pts predicted, after its checks' corrections, vs ${predicted(other).toFixed(2)} uncorrected): the sum misjudges combined options`
              : `BlinkNet's plan carries losses its accuracy checks raised, or was planned for a tighter bound after a missed round (${predicted(r).toFixed(2)} pts predicted, corrected, vs ${predicted(other).toFixed(2)} uncorrected)`;
        lines.push(
          `- ${r.cell.id}: ${other.outcome.strategy} lost ${other.loss!.toFixed(2)} pts, BlinkNet ${r.loss!.toFixed(2)} pts; ${why}`,
        );
      }
    }
  }
  return lines;
}

/**
 * Renders `spec` as `<stem>.svg` (text: what the report links to and what is committed) and
 * `<stem>.png` (for viewers without SVG; not committed).
 */
async function render(spec: vl.TopLevelSpec, stem: string): Promise<void> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  await view.finalize();
  writeFileSync(`${stem}.svg`, svg);
  const image = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white' }).render();
  writeFileSync(`${stem}.png`, image.asPng());
}

async function plots(results: EvalResults, all: readonly Row[], dir: string): Promise<string[]> {
  const accuracy = all
    .filter(
      (r) => r.cell.bound === 'latency' && r.cell.models.length === 1 && r.final && r.loss !== undefined,
    )
    .map((r) => ({
      model: r.cell.models[0],
      strategy: r.outcome.strategy,
      bound: r.cell.fraction * 100,
      loss: r.loss!,
      met: allMet(r.final) ? 'met' : 'missed',
    }));
  const errors = predictionErrors(all);
  const files = ['accuracy-vs-latency-bound', 'predicted-vs-measured'];
  await render(
    {
      title: 'Accuracy loss (held-out) against the latency bound',
      data: { values: accuracy },
      facet: { column: { field: 'model', type: 'nominal', title: null } },
      spec: {
        width: 220,
        height: 200,
        mark: { type: 'line', point: true },
        encoding: {
          x: {
            field: 'bound',
            type: 'quantitative',
            title: 'latency bound (% of original p95)',
            scale: { reverse: true },
          },
          y: { field: 'loss', type: 'quantitative', title: 'accuracy loss (points)' },
          color: { field: 'strategy', type: 'nominal' },
          shape: { field: 'met', type: 'nominal', title: 'bound' },
        },
      },
    },
    join(dir, files[0]),
  );
  const extent = errors.flatMap((e) => [e.predicted, e.measured]);
  const [lo, hi] = [Math.min(...extent), Math.max(...extent)];
  await render(
    {
      title: `Predicted against measured p95, round 1 (${results.threads} thread)`,
      width: 360,
      height: 360,
      layer: [
        {
          data: {
            values: [
              { x: lo, y: lo },
              { x: hi, y: hi },
            ],
          },
          mark: { type: 'line', color: 'gray', strokeDash: [4, 4] },
          encoding: {
            x: { field: 'x', type: 'quantitative', scale: { type: 'log' } },
            y: { field: 'y', type: 'quantitative', scale: { type: 'log' } },
          },
        },
        {
          data: { values: errors },
          mark: { type: 'point', filled: true, opacity: 0.7 },
          encoding: {
            x: { field: 'predicted', type: 'quantitative', title: 'predicted (ms)', scale: { type: 'log' } },
            y: {
              field: 'measured',
              type: 'quantitative',
              title: 'measured p95 (ms)',
              scale: { type: 'log' },
            },
            color: { field: 'model', type: 'nominal' },
          },
        },
      ],
    },
    join(dir, files[1]),
  );
  return files.map((f) => `${f}.svg`);
}

function markdown(
  results: EvalResults,
  all: readonly Row[],
  images: readonly string[],
  command: string,
): string {
  const strategies = [...new Set(results.outcomes.map((o) => o.strategy))];
  const blinknet = all.filter((r) => r.outcome.strategy === 'blinknet');
  const planned = blinknet.filter((r) => r.first);
  const latency = planned.filter((r) => r.cell.bound === 'latency');
  const trainedMet = blinknet.filter((r) => allMet(r.final) && r.loss !== undefined);
  const errors = predictionErrors(all);
  const ownErrors = errors.filter((e) => e.strategy === 'blinknet');
  const rawErrors = predictionErrors(all, 'costModelMs').filter((e) => e.strategy === 'blinknet');
  const machine = results.machine;
  const behind = blinknetBehind(all);
  // Cells the loop found infeasible on the device: a round missed, and the cost model calibrated with
  // what it measured has no plan left (its tightest figures are the measured plan's).
  const provenInfeasible = latency.filter((r) => !allMet(r.final) && r.outcome.unreachable !== undefined);
  const feasible = latency.filter((r) => !provenInfeasible.includes(r));
  const infeasible = blinknet.filter((r) => (!r.first && !r.outcome.error) || provenInfeasible.includes(r));
  const failed = all.filter((r) => r.outcome.error);
  const lines = [
    '# Evaluation: bounds met on the device, and the accuracy kept',
    '',
    `Reproduce: \`${command}\` (${results.quick ? 'quick mode: a smoke test' : 'the full grid'}; ${(results.seconds / 60).toFixed(1)} min here).`,
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, ` +
      `${machine.platform}, Node ${machine.node}, onnxruntime-node ${machine.onnxruntime} (CPU), ` +
      `${results.threads} intra-op thread(s) as the emulated device.`,
    '',
    '## How it was measured',
    '',
    "- Each model's option ladder is profiled as an agent profiles it; that is the class's cost model. The original model is verified as an agent verifies a deployment three times (before and after profiling, after the accuracy model): the median reading is its figure.",
    "- A cell bounds one figure at a fraction of the original's (summed over the models that share the device in a joint cell: a round runs them one after another). Every plan is built and measured as an agent verifies a deployment: " +
      `latency = p95 of the median of ${results.verify.small.windows ?? 3} back-to-back window(s) (>= 200 runs and >= 1 s each; ImageNet-shaped networks: ${results.verify.large.runs} runs each, so their p95 is about the slowest run), ` +
      `memory = resident bytes the model adds, the most of ${results.verify.small.memorySamples ?? 1} load(s) (ImageNet-shaped networks: ${results.verify.large.memorySamples ?? 1}), each in a fresh process, storage = the plan's artifact bytes (a device also keeps its ladder's tighter variants within the bound; not built here). A plan chosen in several cells is measured once.`,
    "- Accuracy: top-1 on the held-out split (the odd images of the test split; the planner's accuracy model uses the even ones). CaffeNet and VGG16 have no trained weights here: their cells report bounds only, and their options are ranked by a proxy (share of the layer's operations removed).",
    `- Strategies: **blinknet** = the planner's exact solver, which builds its plan and checks its loss on the calibration split before it deploys (re-solving with what the check measured), checks each single technique's plan for the same bounds too (trained models) and deploys the least loss as checked, re-planning a cell whose bounds the device missed on a cost model calibrated with what it measured (at most ${Math.max(...results.outcomes.map((o) => o.rounds.length), 1)} rounds seen, the loop's default limit is 3), each round planning for 0.95x the previous round's latency margin; **uniform** = one ladder level for every layer; **greedy** = NetAdapt-style; **lowrank-only / prune-only / int8-only** = the exact solver on one technique (trained models only). Baselines deploy once. Every strategy's first plan aims at ${results.latencyMargin ?? 1}x each latency bound (the policy's latency margin${results.latencyMargin === undefined ? '' : ", the planner's default"}), or at the bound where no plan fits that.`,
    results.calibratedFromOriginal === true
      ? "- Each cell starts from the cost model calibrated with the original's verification on the device (as the planner calibrates a class's cost model with every plan its devices verified, the model as uploaded included): round 1 is the planner's first plan for the cell's bounds."
      : '- Each cell starts from the uncalibrated cost model: round 1 is what the planner predicts without feedback from the device.',
    '',
    '## Against the targets (BlinkNet)',
    '',
    `- Memory bounds met: ${pct(planned.filter((r) => r.cell.bound === 'memory' && r.final!.met.memory).length, planned.filter((r) => r.cell.bound === 'memory').length)} of the cells the cost model found feasible; storage: ${pct(planned.filter((r) => r.cell.bound === 'storage' && r.final!.met.storage).length, planned.filter((r) => r.cell.bound === 'storage').length)} (target 100%).`,
    `- Latency bounds met on the first deployment: ${pct(latency.filter((r) => r.first!.met.latency).length, latency.length)} of the cells the cost model found feasible (target >= 95%); after the loop: ${pct(latency.filter((r) => r.final!.met.latency).length, latency.length)} (target 100%).` +
      (provenInfeasible.length === 0
        ? ''
        : ` Of the cells feasible on the device: ${pct(feasible.filter((r) => r.first!.met.latency).length, feasible.length)} on the first deployment, ${pct(feasible.filter((r) => r.final!.met.latency).length, feasible.length)} after the loop; ${provenInfeasible.map((r) => `${r.cell.id} was found infeasible there (its round ${r.outcome.rounds.length} measured ${sum(r.final!.measured, 'p95Ms').toFixed(4)} ms against ${r.cell.bounds.latencyMs!.toFixed(4)}, and the cost model calibrated with it has no faster plan)`).join('; ')}.`),
    `- Mean held-out accuracy loss over the trained cells met: ${trainedMet.length ? (trainedMet.reduce((n, r) => n + r.loss!, 0) / trainedMet.length).toFixed(2) : '-'} points over ${trainedMet.length} cells (target <= 2).`,
    `- Predicted vs measured whole-model p95 (round 1): median error ${(100 * median(ownErrors.map((e) => e.error))).toFixed(1)}% over BlinkNet's ${ownErrors.length} plans, ${(100 * median(errors.map((e) => e.error))).toFixed(1)}% over all strategies' ${errors.length} (target <= 10%); the uncalibrated cost model's own, over BlinkNet's: ${(100 * median(rawErrors.map((e) => e.error))).toFixed(1)}%. Measured / predicted over all strategies' round-1 plans, the spread a latency margin must cover: ${ratioQuantiles(errors)}.`,
    `- Cells where a baseline met the bounds with less accuracy loss than BlinkNet: ${behind.length === 0 ? 'none' : behind.length}.`,
    ...behind,
    ...(results.skipped ?? []).map((m) => `- **${m.id} was not evaluated**: ${m.error}`),
    ...(failed.length === 0
      ? []
      : [`- Runs that failed to build or measure a plan (see the last table): ${failed.length}.`]),
    '',
    '## Per strategy',
    '',
    ...summaryTable(all, strategies),
    '',
    '"planned": the strategy found a plan on the cost model; percentages are of those cells, except "of all cells" (a cell without a plan counts as not met).',
    '',
    '## Models',
    '',
    '| model | trained | options | profiled in | accuracy model | original p95 (its 3 readings) | memory | storage | held-out accuracy | cells alone | strategies |',
    '|---|:-:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...results.models.map(
      (m) =>
        `| ${m.id} | ${m.trained ? 'yes' : 'no'} | ${m.options} | ${m.profileSeconds.toFixed(1)} s | ${m.accuracyModelSeconds.toFixed(1)} s | ` +
        `${m.original.p95Ms.toFixed(3)} ms (${(m.originalP95Ms ?? []).map((v) => v.toFixed(3)).join(', ')}) | ${(m.original.memoryBytes / 1e6).toFixed(2)} MB | ${(m.original.storageBytes / 1e6).toFixed(3)} MB | ` +
        `${m.original.accuracy === undefined ? '-' : `${(m.original.accuracy * 100).toFixed(2)}%`} | ` +
        `${results.cells.filter((c) => c.models.length === 1 && c.models[0] === m.id).length} | ` +
        `${[...new Set(all.filter((r) => r.cell.models.length === 1 && r.cell.models[0] === m.id).map((r) => r.outcome.strategy))].join(', ')} |`,
    ),
    '',
    "## Infeasible cells (BlinkNet's cost model: no plan)",
    '',
    ...(infeasible.length === 0
      ? ['None.']
      : [
          '| cell | found | unreachable | tightest latency | tightest memory | tightest storage |',
          '|---|---|---|---:|---:|---:|',
          ...infeasible.map(
            (r) =>
              `| ${r.cell.id} | ${r.first ? `on the device, after round ${r.outcome.rounds.length}` : 'before deploying'} | ${r.outcome.unreachable?.join(', ')} | ${r.outcome.tightest!.latencyMs.toFixed(3)} ms | ` +
              `${(r.outcome.tightest!.memoryBytes / 1e6).toFixed(2)} MB | ${(r.outcome.tightest!.storageBytes / 1e6).toFixed(3)} MB |`,
          ),
        ]),
    '',
    '## Plots',
    '',
    ...images.map((f) => `![${f}](${f})`),
    '',
    '## Every cell',
    '',
    ...cellTable(all),
    '',
  ];
  return lines.join('\n');
}

/**
 * Writes eval.md and the plots beside `resultsPath` (and docs/evaluation.md for a full run, but an
 * --uncalibrated one); returns the report's path.
 */
export async function writeReport(results: EvalResults, resultsPath: string): Promise<string> {
  const all = rows(results);
  const flags = [
    ...(results.quick ? ['--quick'] : []),
    ...(results.calibratedFromOriginal === false ? ['--uncalibrated'] : []),
  ];
  const command = `npm run bench:eval${flags.length > 0 ? ` -- ${flags.join(' ')}` : ''}`;
  const dir = dirname(resultsPath);
  const stem = basename(resultsPath, '.json');
  const images = join(dir, stem);
  mkdirSync(images, { recursive: true });
  const files = await plots(results, all, images);
  const path = join(dir, `${stem}.md`);
  writeFileSync(
    path,
    markdown(
      results,
      all,
      files.map((f) => `${stem}/${f}`),
      command,
    ),
  );
  if (!results.quick && results.calibratedFromOriginal !== false) {
    const docsImages = join(DOCS, 'evaluation');
    mkdirSync(docsImages, { recursive: true });
    await plots(results, all, docsImages);
    const report = markdown(
      results,
      all,
      files.map((f) => `evaluation/${f}`),
      command,
    );
    // Formatted as the repository's own markdown is (a committed file, checked by `npm test`).
    const target = join(DOCS, 'evaluation.md');
    const options = await prettier.resolveConfig(target);
    writeFileSync(target, await prettier.format(report, { ...options, filepath: target }));
    return `${path} and ${relative(process.cwd(), join(DOCS, 'evaluation.md'))}`;
  }
  return path;
}
