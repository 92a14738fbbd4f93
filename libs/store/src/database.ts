import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import Database from 'better-sqlite3';
import { PrismaClient } from './generated/prisma/client';
import { applyMigrations } from './migrations';

export type { PrismaClient };

export interface OpenedDatabase {
  readonly prisma: PrismaClient;
  /** Migrations applied by this open (empty when the schema was current). */
  readonly appliedMigrations: readonly string[];
  close(): Promise<void>;
}

/**
 * A direct SQLite connection per opened database, for the one hot write path (report ingestion):
 * Prisma's createMany tops out near 3,000 rows/s here, prepared statements do far more. Kept out of
 * OpenedDatabase so that only this library can reach it.
 */
const writers = new WeakMap<OpenedDatabase, Database.Database>();

export function writerOf(db: OpenedDatabase): Database.Database {
  const writer = writers.get(db);
  if (!writer || !writer.open) throw new Error('database is closed');
  return writer;
}

/**
 * Opens (creating if needed) the planner's SQLite database: WAL journal, foreign keys on, pending
 * migrations applied, then a Prisma client over the same file through the better-sqlite3 adapter.
 */
export async function openDatabase(file: string): Promise<OpenedDatabase> {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  let appliedMigrations: string[];
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    appliedMigrations = applyMigrations(db);
  } finally {
    db.close();
  }
  const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${file}` }) });
  await prisma.$connect();
  const writer = new Database(file);
  writer.pragma('foreign_keys = ON');
  const opened: OpenedDatabase = {
    prisma,
    appliedMigrations,
    close: async () => {
      writer.close();
      await prisma.$disconnect();
    },
  };
  writers.set(opened, writer);
  return opened;
}
