import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations } from './migrations';

/** Columns, foreign keys and indexes of every table: what Prisma's client relies on. */
function shape(db: Database.Database): Record<string, string[]> {
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'",
    )
    .all() as { name: string }[];
  const out: Record<string, string[]> = {};
  for (const { name } of tables) {
    const columns = db.prepare(`PRAGMA table_info("${name}")`).all() as Record<string, unknown>[];
    const keys = db.prepare(`PRAGMA foreign_key_list("${name}")`).all() as Record<string, unknown>[];
    const indexes = db.prepare(`PRAGMA index_list("${name}")`).all() as { name: string; unique: number }[];
    out[name] = [
      ...columns.map(
        (c) => `column ${c.name} ${c.type} notnull=${c.notnull} default=${c.dflt_value} pk=${c.pk}`,
      ),
      ...keys.map((k) => `fk ${k.from} -> ${k.table}.${k.to} delete=${k.on_delete} update=${k.on_update}`),
      ...indexes
        .filter((i) => !i.name.startsWith('sqlite_autoindex'))
        .map((i) => {
          const cols = (db.prepare(`PRAGMA index_info("${i.name}")`).all() as { name: string }[]).map(
            (c) => c.name,
          );
          return `index ${i.name} unique=${i.unique} (${cols.join(', ')})`;
        }),
    ].sort();
  }
  return out;
}

describe('schema.prisma and the committed migrations', () => {
  it('describe the same tables, columns, keys and indexes', () => {
    // Prisma's own SQL for the schema from scratch (its bundled Wasm engine: no download).
    const dummy = join(mkdtempSync(join(tmpdir(), 'blinknet-prisma-')), 'engine');
    writeFileSync(dummy, '');
    const sql = execFileSync(
      require.resolve('prisma/build/index.js'),
      ['migrate', 'diff', '--from-empty', '--to-schema-datamodel', 'prisma/schema.prisma', '--script'],
      {
        cwd: join(__dirname, '..'),
        env: { ...process.env, PRISMA_QUERY_ENGINE_LIBRARY: dummy, PRISMA_SCHEMA_ENGINE_BINARY: dummy },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    rmSync(dirname(dummy), { recursive: true, force: true });
    const fromSchema = new Database(':memory:');
    fromSchema.exec(sql);
    const fromMigrations = new Database(':memory:');
    applyMigrations(fromMigrations);
    expect(shape(fromMigrations)).toEqual(shape(fromSchema));
  }, 60_000);
});
