// Prisma CLI configuration (run from libs/store): the JS query engine with the better-sqlite3 driver
// adapter, so migrations and generation use Prisma's bundled Wasm schema engine and need no download.
import os from 'node:os';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { defineConfig } from 'prisma/config';

export default defineConfig({
  engine: 'js',
  experimental: { adapter: true },
  schema: path.join('prisma', 'schema.prisma'),
  async adapter() {
    return new PrismaBetterSQLite3({
      url: process.env['DATABASE_URL'] ?? `file:${path.join(os.tmpdir(), 'blinknet-prisma-cli.db')}`,
    });
  },
});
