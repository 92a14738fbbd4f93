import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { BlinkNetError, toError } from '@blinknet/core';
import { parsePlannerConfig, PLANNER_USAGE } from './config';
import { Planner } from './planner';

/** `blinknet-planner`: parses the configuration, starts the planner, stops it cleanly on SIGTERM/SIGINT. */
async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parsePlannerConfig(process.argv.slice(2), process.env, (path) => readFileSync(path, 'utf8'));
  } catch (error) {
    process.stderr.write(`blinknet-planner: ${toError(error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${PLANNER_USAGE}\n`);
    return 0;
  }
  const log = pino({ name: 'blinknet-planner', level: parsed.config.logLevel });
  let planner: Planner;
  try {
    planner = await Planner.start(parsed.config, log);
  } catch (error) {
    log.fatal({ err: toError(error).message }, 'planner failed to start');
    return error instanceof BlinkNetError ? 2 : 1;
  }
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  log.info('stopping');
  await planner.stop();
  log.info('stopped');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`blinknet-planner: ${toError(error).stack}\n`);
    process.exitCode = 1;
  },
);
