import { OptionSyntaxError } from './errors';

/**
 * One way to run a layer. The string form is the option's name everywhere (plans, database, CLI):
 * `exact`, `lowrank:r=64`, `lowrank-data:r=64`, `prune:keep=0.5`, `int8:storage`, `int8:compute`.
 */
export type LayerOption =
  | { readonly kind: 'exact' }
  | { readonly kind: 'lowrank'; readonly rank: number }
  | { readonly kind: 'lowrank-data'; readonly rank: number }
  | { readonly kind: 'prune'; readonly keep: number }
  | { readonly kind: 'int8'; readonly form: 'storage' | 'compute' };

export type OptionKind = LayerOption['kind'];

const EXACT = /^exact$/;
const LOWRANK = /^(lowrank|lowrank-data):r=([1-9]\d*)$/;
const PRUNE = /^prune:keep=(0?\.\d+|1(?:\.0+)?)$/;
const INT8 = /^int8:(storage|compute)$/;

export function parseOption(text: string): LayerOption {
  if (EXACT.test(text)) return { kind: 'exact' };
  const lowrank = LOWRANK.exec(text);
  if (lowrank) return { kind: lowrank[1] as 'lowrank' | 'lowrank-data', rank: Number(lowrank[2]) };
  const prune = PRUNE.exec(text);
  if (prune) {
    const keep = Number(prune[1]);
    if (!(keep > 0 && keep <= 1)) throw new OptionSyntaxError(text, 'keep must be in (0, 1]');
    return { kind: 'prune', keep };
  }
  const int8 = INT8.exec(text);
  if (int8) return { kind: 'int8', form: int8[1] as 'storage' | 'compute' };
  throw new OptionSyntaxError(
    text,
    'expected exact, lowrank:r=<int>, lowrank-data:r=<int>, prune:keep=<0..1>, int8:storage or int8:compute',
  );
}

export function formatOption(option: LayerOption): string {
  switch (option.kind) {
    case 'exact':
      return 'exact';
    case 'lowrank':
    case 'lowrank-data':
      return `${option.kind}:r=${option.rank}`;
    case 'prune':
      return `prune:keep=${Number(option.keep.toFixed(4))}`;
    case 'int8':
      return `int8:${option.form}`;
  }
}
