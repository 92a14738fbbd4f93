import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations, listMigrations, MigrationError, openDatabase } from './index';

describe('database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blinknet-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('applies the committed migrations to an empty database, once', async () => {
    const file = join(dir, 'planner.db');
    const first = await openDatabase(file);
    try {
      expect(first.appliedMigrations).toEqual(listMigrations().map((m) => m.name));
      const cls = await first.prisma.deviceClass.create({ data: { name: 'rpi4' } });
      await first.prisma.device.create({
        data: { name: 'pi-01', deviceClassId: cls.id, factsJson: '{}', tokenSha256: 'ab'.repeat(32) },
      });
      await expect(
        first.prisma.device.create({
          data: { name: 'pi-01', deviceClassId: cls.id, factsJson: '{}', tokenSha256: 'cd'.repeat(32) },
        }),
      ).rejects.toThrow(/Unique constraint/);
    } finally {
      await first.close();
    }
    const again = await openDatabase(file);
    try {
      expect(again.appliedMigrations).toEqual([]);
      expect(await again.prisma.device.count()).toBe(1);
    } finally {
      await again.close();
    }
  });

  it('refuses a migration edited after it was applied', () => {
    const db = new Database(join(dir, 'edited.db'));
    try {
      const [init] = listMigrations();
      applyMigrations(db, [init]);
      expect(() => applyMigrations(db, [{ ...init, sha256: 'changed' }])).toThrow(MigrationError);
    } finally {
      db.close();
    }
  });

  it('rolls back a failing migration and names it', () => {
    const db = new Database(join(dir, 'failing.db'));
    try {
      const bad = {
        name: '0002_bad',
        sql: 'CREATE TABLE t (x INT); INSERT INTO nowhere VALUES (1);',
        sha256: 'x',
      };
      expect(() => applyMigrations(db, [bad])).toThrow(/migration 0002_bad: no such table: nowhere/);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 't'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });
});
