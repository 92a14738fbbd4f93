export { type OpenedDatabase, openDatabase, type PrismaClient } from './database';
export { MigrationError } from './errors';
export { applyMigrations, listMigrations, type Migration, MIGRATIONS_DIR } from './migrations';
