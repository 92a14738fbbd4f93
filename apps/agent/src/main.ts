import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { BlinkNetError, toError } from '@blinknet/core';
import { Agent } from './agent';
import { AGENT_USAGE, parseAgentConfig } from './config';

/** `blinknet-agent`: parses the configuration, starts the agent, stops it cleanly on SIGTERM/SIGINT. */
async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseAgentConfig(process.argv.slice(2), process.env, (path) => readFileSync(path, 'utf8'));
  } catch (error) {
    process.stderr.write(`blinknet-agent: ${toError(error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${AGENT_USAGE}\n`);
    return 0;
  }
  const config = parsed.config;
  const log = pino({ name: 'blinknet-agent', level: config.logLevel });
  let agent: Agent;
  try {
    agent = await Agent.start(config, log);
  } catch (error) {
    log.fatal({ err: toError(error).message }, 'agent failed to start');
    return error instanceof BlinkNetError ? 2 : 1;
  }
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  log.info('stopping');
  await agent.stop();
  log.info('stopped');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`blinknet-agent: ${toError(error).stack}\n`);
    process.exitCode = 1;
  },
);
