import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { MigrationError } from './errors';

/** Committed SQL migrations, one folder each (`0001_init/migration.sql`), applied in name order. */
export const MIGRATIONS_DIR = join(__dirname, '..', 'prisma', 'migrations');

export interface Migration {
  readonly name: string;
  readonly sql: string;
  readonly sha256: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, sha256: createHash('sha256').update(sql).digest('hex') };
    });
}

/**
 * Applies the migrations not yet applied, each in its own transaction, and records them. Prisma's own
 * `migrate deploy` needs its CLI at run time; this keeps the planner a plain Node process.
 * @returns the names of the migrations applied now
 * @throws MigrationError when an applied migration's SQL changed since, or a migration fails
 */
export function applyMigrations(db: Database.Database, migrations = listMigrations()): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS "_blinknet_migrations" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "sha256" TEXT NOT NULL,
    "appliedAt" TEXT NOT NULL
  )`);
  const applied = new Map(
    (
      db.prepare('SELECT name, sha256 FROM "_blinknet_migrations"').all() as {
        name: string;
        sha256: string;
      }[]
    ).map((r) => [r.name, r.sha256]),
  );
  const record = db.prepare('INSERT INTO "_blinknet_migrations" (name, sha256, appliedAt) VALUES (?, ?, ?)');
  const now: string[] = [];
  for (const m of migrations) {
    const sha = applied.get(m.name);
    if (sha !== undefined) {
      if (sha !== m.sha256)
        throw new MigrationError(m.name, 'was edited after it was applied; add a new migration instead');
      continue;
    }
    try {
      db.transaction(() => {
        db.exec(m.sql);
        record.run(m.name, m.sha256, new Date().toISOString());
      })();
    } catch (cause) {
      throw new MigrationError(m.name, (cause as Error).message, { cause });
    }
    now.push(m.name);
  }
  return now;
}
