/**
 * `npm run bench:agent [-- --runs N]`: the edge agent daemon as an operator starts it
 * (`blinknet-agent`, a child process): time from spawn to its local inference API listening, resident
 * memory when idle with no model loaded (after 3 s), and time to exit on SIGTERM. Medians over N
 * starts. The device identity is pre-seeded so that no planner is needed (reports just spool).
 * Saves tools/bench/results/<date>/agent.json.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, median, saveResults } from './machine';

const { values } = parseArgs({
  options: { runs: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('usage: npm run bench:agent -- [--runs N]   (default 5)');
  process.exit(0);
}
const runs = Number(values.runs ?? 5);
const bin = join(__dirname, '..', '..', 'apps', 'agent', 'bin', 'blinknet-agent.cjs');

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return line ? Number(line[1]) * 1024 : NaN;
}

async function once() {
  const dataDir = mkdtempSync(join(tmpdir(), 'blinknet-bench-agent-'));
  const identity = { deviceId: 'bench', token: 'bench', deviceClass: 'bench', name: 'bench' };
  writeFileSync(join(dataDir, 'identity.json'), JSON.stringify(identity), { mode: 0o600 });
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [bin, '--planner', '127.0.0.1:9', '--device-class', 'bench', '--name', 'bench', '--data-dir', dataDir],
    {
      env: { ...process.env, BLINKNET_LISTEN: '127.0.0.1:0', BLINKNET_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  const listening = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('local inference API listening')) resolve(performance.now() - started);
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}: ${output}`)));
  });
  await new Promise((r) => setTimeout(r, 3000));
  const idleRss = rssBytes(child.pid!);
  const stopping = performance.now();
  child.kill('SIGTERM');
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stopMs = performance.now() - stopping;
  rmSync(dataDir, { recursive: true, force: true });
  return { startMs: listening, idleRssBytes: idleRss, stopMs, exitCode };
}

async function main(): Promise<void> {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const s = await once();
    samples.push(s);
    console.log(
      `run ${i + 1}/${runs}: listening after ${s.startMs.toFixed(0)} ms, idle RSS ${(s.idleRssBytes / 2 ** 20).toFixed(1)} MiB, SIGTERM -> exit ${s.exitCode} in ${s.stopMs.toFixed(0)} ms`,
    );
  }
  const summary = {
    runs,
    startMsMedian: median(samples.map((s) => s.startMs)),
    idleRssBytesMedian: median(samples.map((s) => s.idleRssBytes)),
    stopMsMedian: median(samples.map((s) => s.stopMs)),
    cleanExits: samples.filter((s) => s.exitCode === 0).length,
  };
  console.log(
    `\nmedian: start ${summary.startMsMedian.toFixed(0)} ms, idle RSS ${(summary.idleRssBytesMedian / 2 ** 20).toFixed(1)} MiB, stop ${summary.stopMsMedian.toFixed(0)} ms; ${summary.cleanExits}/${runs} clean exits (${machine().cpu})`,
  );
  console.log(`saved ${saveResults('agent', { ...summary, samples })}`);
}

void main();
