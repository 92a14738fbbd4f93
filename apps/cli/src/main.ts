import { readFileSync } from 'node:fs';
import { toError } from '@blinknet/core';
import { runCli } from './cli';

/** `blinknet`: the operator CLI (see `blinknet --help`). */
runCli(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTTY: process.stderr.isTTY === true,
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  readFile: (path) => readFileSync(path, 'utf8'),
}).then(
  (code) => {
    // exitCode rather than exit(): stdout may still be draining into a pipe.
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`blinknet: ${toError(error).stack}\n`);
    process.exitCode = 1;
  },
);
