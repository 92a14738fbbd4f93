import { InvalidArgumentError } from './errors';
import { parseSettings } from './settings';

const specs = {
  port: { flag: 'port', env: 'X_PORT', help: 'port' },
  dataDir: { flag: 'data-dir', env: 'X_DATA_DIR', help: 'dir' },
};
const files: Record<string, string> = {
  'good.json': '{"port": 7000, "dataDir": "/from/file"}',
  'unknown.json': '{"prot": 7000}',
  'bad.json': '{not json',
};
const read = (path: string) => {
  if (!(path in files)) throw new Error('ENOENT');
  return files[path];
};

describe('parseSettings', () => {
  it('takes flags over environment over config file', () => {
    const parsed = parseSettings(
      specs,
      'X_CONFIG',
      ['--port', '1'],
      { X_PORT: '2', X_CONFIG: 'good.json' },
      read,
    );
    if (parsed.help) throw new Error('unexpected help');
    expect(parsed.integer('port', 1)).toBe(1);
    expect(parsed.values.port?.source).toBe('--port');
    expect(parsed.required('dataDir')).toBe('/from/file');
    const fromEnv = parseSettings(specs, 'X_CONFIG', ['--config', 'good.json'], { X_PORT: '2' }, read);
    if (fromEnv.help) throw new Error('unexpected help');
    expect(fromEnv.integer('port', 1)).toBe(2);
  });

  it('names what is wrong', () => {
    expect(() => parseSettings(specs, 'X_CONFIG', ['--prot', '1'], {}, read)).toThrow(
      /Unknown option '--prot'/,
    );
    expect(() => parseSettings(specs, 'X_CONFIG', ['--config', 'unknown.json'], {}, read)).toThrow(
      /unknown key\(s\) "prot"/,
    );
    expect(() => parseSettings(specs, 'X_CONFIG', ['--config', 'bad.json'], {}, read)).toThrow(
      /cannot read 'bad.json'/,
    );
    const parsed = parseSettings(specs, 'X_CONFIG', [], { X_PORT: 'abc' }, read);
    if (parsed.help) throw new Error('unexpected help');
    expect(() => parsed.integer('port', 1)).toThrow(/X_PORT: must be an integer >= 1, got 'abc'/);
    expect(() => parsed.required('dataDir')).toThrow(InvalidArgumentError);
    expect(() => parsed.required('dataDir')).toThrow(/--data-dir: is required \(or set X_DATA_DIR\)/);
  });

  it('--help wins', () => {
    expect(parseSettings(specs, 'X_CONFIG', ['-h'], {}, read)).toEqual({ help: true });
  });
});
