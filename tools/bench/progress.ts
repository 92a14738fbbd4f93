/**
 * Progress of long work: a bar redrawn in place on a terminal, a line every 5 s otherwise (logs, CI).
 */
export function progress(name: string, stream: NodeJS.WriteStream = process.stdout) {
  let lastLine = 0;
  return (done: number, total: number, label: string): void => {
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round((width * done) / Math.max(1, total));
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      stream.write(`\r\x1b[K  ${name} [${bar}] ${done}/${total} ${label}`.slice(0, stream.columns ?? 120));
      if (done === total && !label.startsWith('timing')) stream.write('\n');
      return;
    }
    if (performance.now() - lastLine > 5000 || done === total) {
      stream.write(`  ${name}: ${done}/${total} ${label}\n`);
      lastLine = performance.now();
    }
  };
}
