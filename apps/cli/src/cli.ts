import { toError } from '@blinknet/core';
import { type CommandLine, parseCommandLine } from './args';
import { AdminClient } from './client';
import { type CommandIO, runCommand } from './commands';
import { PlannerCallError, UsageError } from './errors';

export interface CliIO extends CommandIO {
  /** Reads --token-file. */
  readonly readFile: (path: string) => string;
}

/** Exit statuses: usage errors are told apart from failed calls so that scripts can react. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * `blinknet` without the process: parses `argv`, runs the command against the planner and returns
 * the exit status. Errors are reported on `io.stderr` as `blinknet: <what>`; nothing is thrown.
 */
export async function runCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIO,
): Promise<number> {
  let line: CommandLine;
  try {
    line = parseCommandLine(argv, env, io.readFile);
  } catch (error) {
    return report(error, io);
  }
  if (line.help !== undefined) {
    io.stdout(`${line.help}\n`);
    return EXIT_OK;
  }
  const { command, options } = line;
  const client = new AdminClient(options.planner, options.token, options.timeoutMs);
  try {
    await runCommand(command, client, options.json, io);
    return EXIT_OK;
  } catch (error) {
    return report(error, io);
  } finally {
    client.close();
  }
}

function report(error: unknown, io: CliIO): number {
  if (error instanceof UsageError) {
    io.stderr(`blinknet: ${error.message}\nsee '${error.help}'\n`);
    return EXIT_USAGE;
  }
  if (error instanceof PlannerCallError) {
    io.stderr(`blinknet: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  io.stderr(`blinknet: ${toError(error).message}\n`);
  return EXIT_FAILURE;
}
