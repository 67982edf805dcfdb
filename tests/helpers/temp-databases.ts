// Migrated SQLite databases in temp dirs for unit tests, all closed and removed when the test file ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type OpenDatabase, openDatabase } from '../../src/main/core/db/open-database.js';

export function tempDatabases(prefix: string): { freshDir(): string; open(dir?: string): OpenDatabase } {
  const dirs: string[] = [];
  const dbs: OpenDatabase[] = [];
  const freshDir = () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const o of dbs) {
      try {
        o.close();
      } catch {
        /* already closed */
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    freshDir,
    open: (dir = freshDir()) => {
      const o = openDatabase(dir);
      dbs.push(o);
      return o;
    },
  };
}
