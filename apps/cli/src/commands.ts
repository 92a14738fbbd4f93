import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { formatBytes } from '@blinknet/core';
import { type UploadModelResponse } from '@blinknet/proto/v1/admin';
import { type Command, WATCH_INTERVAL_MS } from './args';
import { type AdminApi, UPLOAD_CHUNK_BYTES } from './client';
import { UsageError } from './errors';
import {
  ENDED_STATES,
  formatInstant,
  formatLoop,
  LOOP_ENDED_STATES,
  renderClasses,
  renderDeletedPolicy,
  renderDeploy,
  renderDevices,
  renderJson,
  renderModels,
  renderPlan,
  renderPolicy,
  renderRollback,
  renderSetPolicy,
  renderStatus,
  renderUpload,
} from './format';

/** Where a command writes: the answer on stdout, progress on stderr. */
export interface CommandIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Upload progress is drawn only on a terminal, never into a log or a pipe. */
  readonly stderrIsTTY: boolean;
  readonly now: () => number;
  /** Waits between the polls of `status --watch`. */
  readonly sleep: (ms: number) => Promise<void>;
}

/** Runs one command against the planner and prints its answer, as a table or (`json`) as the response object. */
export async function runCommand(
  command: Command,
  admin: AdminApi,
  json: boolean,
  io: CommandIO,
): Promise<void> {
  if (command.name === 'status' && command.watch) return watchStatus(command, admin, json, io);
  const [response, render] = await call(command, admin, io);
  io.stdout(json ? renderJson(response) : render());
}

async function call(command: Command, admin: AdminApi, io: CommandIO): Promise<[object, () => string]> {
  switch (command.name) {
    case 'models upload': {
      const response = await uploadFile(command, admin, io);
      return [response, () => renderUpload(response)];
    }
    case 'models ls': {
      const response = await admin.listModelVersions();
      return [response, () => renderModels(response)];
    }
    case 'devices ls': {
      const response = await admin.listDevices(command.deviceClass);
      return [response, () => renderDevices(response, command.deviceClass, io.now())];
    }
    case 'classes ls': {
      const response = await admin.listDeviceClasses();
      return [response, () => renderClasses(response)];
    }
    case 'policy set': {
      const response = await admin.setPolicy(command.policy);
      return [response, () => renderSetPolicy(response)];
    }
    case 'policy get': {
      const response = await admin.getPolicy(command.scope);
      return [response, () => renderPolicy(response.policy)];
    }
    case 'policy rm': {
      const response = await admin.deletePolicy(command.scope);
      return [response, () => renderDeletedPolicy(command.scope)];
    }
    case 'plan preview': {
      const response = await admin.previewPlan(command.scope);
      return [response, () => renderPlan(response, command.scope)];
    }
    case 'deploy': {
      const response = await admin.deploy(command.scope);
      return [response, () => renderDeploy(response, command.scope)];
    }
    case 'status': {
      const response = await admin.getStatus(command.scope);
      return [response, () => renderStatus(response, command.scope)];
    }
    case 'rollback': {
      const response = await admin.rollback(command.scope);
      return [response, () => renderRollback(response, command.scope)];
    }
  }
}

type StatusCommand = Extract<Command, { name: 'status' }>;

/**
 * Asks for the status every WATCH_INTERVAL_MS until every policy's loop has ended (converged, failed
 * or infeasible) and every deployment too (active, failed or rolled-back), printing the status
 * whenever a state changes; with `json`, only the last answer.
 */
async function watchStatus(
  command: StatusCommand,
  admin: AdminApi,
  json: boolean,
  io: CommandIO,
): Promise<void> {
  let shown: string | undefined;
  for (;;) {
    const response = await admin.getStatus(command.scope);
    const states = [
      ...response.loops.map(formatLoop),
      ...response.deployments.map((d) => `${d.id}=${d.state}`),
    ].join('\n');
    if (!json && states !== shown) {
      io.stdout(
        `${shown === undefined ? '' : '\n'}at ${formatInstant(io.now())}\n${renderStatus(response, command.scope)}`,
      );
      shown = states;
    }
    if (
      response.loops.every((loop) => LOOP_ENDED_STATES.includes(loop.state)) &&
      response.deployments.every((d) => ENDED_STATES.includes(d.state))
    ) {
      if (json) io.stdout(renderJson(response));
      return;
    }
    await io.sleep(WATCH_INTERVAL_MS);
  }
}

type UploadCommand = Extract<Command, { name: 'models upload' }>;

/** Hashes the file (the header carries its sha256), then streams it in 1 MiB chunks. */
async function uploadFile(
  command: UploadCommand,
  admin: AdminApi,
  io: CommandIO,
): Promise<UploadModelResponse> {
  const { sha256, bytes } = await digestFile(command.file);
  const inputsBytes = command.inputs === undefined ? 0 : (await digestFile(command.inputs, '--inputs')).bytes;
  const files = [command.file, ...(command.inputs === undefined ? [] : [command.inputs])];
  const progress = io.stderrIsTTY
    ? new ProgressLine(io.stderr, basename(command.file), bytes + inputsBytes)
    : undefined;
  try {
    return await admin.uploadModel(
      { name: command.model, datasetId: command.datasetId, sha256, bytes, inputsBytes },
      // The file, then the supplied inputs, as one stream.
      (async function* () {
        for (const file of files) yield* createReadStream(file, { highWaterMark: UPLOAD_CHUNK_BYTES });
      })(),
      (sent) => progress?.update(sent),
    );
  } finally {
    progress?.end();
  }
}

/** @throws UsageError when the file cannot be read or is empty, before anything is sent */
async function digestFile(file: string, what = '<file.onnx>'): Promise<{ sha256: string; bytes: number }> {
  const fail = (message: string): never => {
    throw new UsageError(what, message, 'models upload');
  };
  try {
    if (!(await stat(file)).isFile()) fail(`'${file}' is not a file`);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    if (bytes === 0) fail(`'${file}' is empty`);
    return { sha256: hash.digest('hex'), bytes };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return fail(`cannot read '${file}': ${(error as Error).message}`);
  }
}

/** `uploading lenet5.onnx: 42% (104.7 kB of 249.3 kB)`, redrawn in place when the percentage moves. */
class ProgressLine {
  private shown = -1;

  constructor(
    private readonly write: (text: string) => void,
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(sent: number): void {
    const percent = Math.floor((sent / this.total) * 100);
    if (percent === this.shown) return;
    this.shown = percent;
    // \r returns to the line's start and ESC [K clears what a longer previous line left.
    this.write(
      `\r\x1b[Kuploading ${this.label}: ${percent}% (${formatBytes(sent)} of ${formatBytes(this.total)})`,
    );
  }

  end(): void {
    if (this.shown >= 0) this.write('\n');
  }
}
