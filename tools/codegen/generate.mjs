#!/usr/bin/env node
// Generates the code that is never committed: TypeScript for proto/ (ts-proto through buf, both
// installed from npm, so this works offline) into libs/proto, and the Prisma client into libs/store.
// Runs from `npm ci` (postinstall). Skips a step whose inputs are unchanged since its last run
// (a content hash in a stamp file); `--force` regenerates everything.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const force = process.argv.includes('--force');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function filesUnder(path) {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => filesUnder(join(path, entry)));
}

function hashOf(paths) {
  const hash = createHash('sha256');
  for (const file of paths.flatMap(filesUnder)) {
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  return hash.digest('hex');
}

/** Runs `produce` into `outDir` unless the stamp there matches the inputs' hash. */
function step(name, inputs, outDir, produce) {
  const stamp = join(outDir, '.inputs.sha256');
  const hash = hashOf(inputs.map((p) => join(root, p)));
  if (!force && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) {
    console.log(`codegen: ${name} up to date`);
    return;
  }
  const started = Date.now();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  produce();
  writeFileSync(stamp, hash); // last, so an interrupted run regenerates next time
  console.log(`codegen: ${name} generated in ${Date.now() - started} ms`);
}

function run(command, args, env = {}) {
  execFileSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
}

step(
  'proto (ts-proto via buf)',
  ['proto', 'buf.yaml', 'buf.gen.yaml', 'buf.gen.onnx.yaml'],
  join(root, 'libs/proto/src/generated'),
  () => {
    run(bin('buf'), ['generate', '--template', 'buf.gen.onnx.yaml', '--path', 'proto/onnx']);
    run(bin('buf'), ['generate', '--template', 'buf.gen.yaml', '--path', 'proto/blinknet']);
  },
);

step(
  'prisma client',
  ['libs/store/prisma/schema.prisma', 'libs/store/prisma.config.ts'],
  join(root, 'libs/store/src/generated'),
  () => {
    // Prisma's CLI would download native engines it does not need with the JS engine and a driver
    // adapter; pointing these at an existing file stops the download (see README, "Offline install").
    const dummy = fileURLToPath(import.meta.url);
    run(bin('prisma'), ['generate', '--schema', 'libs/store/prisma/schema.prisma'], {
      PRISMA_QUERY_ENGINE_LIBRARY: dummy,
      PRISMA_SCHEMA_ENGINE_BINARY: dummy,
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      CHECKPOINT_DISABLE: '1',
    });
  },
);
