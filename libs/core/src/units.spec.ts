import { formatBytes, formatCount, InvalidArgumentError } from './index';

describe('units', () => {
  it('formats bytes with SI prefixes', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_500)).toBe('1.5 kB');
    expect(formatBytes(243_880_000)).toBe('243.88 MB');
    expect(formatBytes(2_500_000_000)).toBe('2.50 GB');
  });

  it('formats counts with separators', () => {
    expect(formatCount(60965224)).toBe('60,965,224');
  });
});

describe('errors', () => {
  it('name the field and keep the cause', () => {
    const cause = new Error('inner');
    const error = new InvalidArgumentError('policy.latencyMs', 'must be positive', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvalidArgumentError');
    expect(error.message).toBe('policy.latencyMs: must be positive');
    expect(error.cause).toBe(cause);
  });
});
