/** Bytes are the unit inside BlinkNet; MB (10^6) and MiB appear only at the edges. */
export const BYTES_PER_MB = 1_000_000;
export const BYTES_PER_MIB = 1024 * 1024;

/** Formats a byte count for people: `1.23 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1_000).toFixed(1)} kB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(2)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(2)} GB`;
}

/** Formats a count with thousands separators: `60,965,224`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
