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
  return { prisma, appliedMigrations, close: () => prisma.$disconnect() };
}
