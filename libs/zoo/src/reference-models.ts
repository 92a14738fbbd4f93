import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DatasetName, type InputLayout } from './datasets';
import { ReferenceModelError } from './errors';

/** A model trained on real data by tools/train, committed with its manifest entry. */
export interface ReferenceModel {
  readonly id: string;
  /** Absolute path of the .onnx file. */
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly parameters: number;
  readonly architecture: string;
  readonly dataset: DatasetName;
  readonly input: InputLayout & { readonly name: string; readonly size: number };
  readonly output: string;
  readonly classes: number;
  readonly testSamples: number;
  /** Fraction of the test split classified correctly when the model was trained. */
  readonly testAccuracy: number;
  readonly seed: number;
  readonly epochs: number;
  readonly command: string;
}

export const REFERENCE_MODELS_DIR = join(__dirname, '..', 'models');

interface ManifestEntry extends Omit<ReferenceModel, 'id' | 'path'> {
  readonly file: string;
}

export function referenceModels(): ReferenceModel[] {
  const manifestPath = join(REFERENCE_MODELS_DIR, 'manifest.json');
  let manifest: { models: Record<string, ManifestEntry> };
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (cause) {
    throw new ReferenceModelError('*', `cannot read ${manifestPath}: ${(cause as Error).message}`);
  }
  return Object.entries(manifest.models).map(([id, entry]) => ({
    ...entry,
    id,
    path: join(REFERENCE_MODELS_DIR, entry.file),
  }));
}

export function referenceModel(id: string): ReferenceModel {
  const all = referenceModels();
  const found = all.find((m) => m.id === id);
  if (!found) throw new ReferenceModelError(id, `unknown; known: ${all.map((m) => m.id).join(', ')}`);
  return found;
}

/** Reads a reference model's bytes, refusing a file that does not match its manifest sha256. */
export function readReferenceModel(model: ReferenceModel): Uint8Array {
  const bytes = readFileSync(model.path);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== model.sha256) {
    throw new ReferenceModelError(
      model.id,
      `${model.path} has sha256 ${actual}, manifest says ${model.sha256}`,
    );
  }
  return bytes;
}
