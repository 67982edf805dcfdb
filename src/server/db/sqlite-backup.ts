// Online backups of a server's SQLite file (the node's salita.db, the cloud's cloud.db) into `<dataDir>/backups/`:
// taken with VACUUM INTO (a consistent snapshot while the database stays in use), at most once a day and before
// every migration, the newest few kept, each file 0600 (it holds the same sealed secrets as the database).
// A backup that fails is the caller's to log: it never stops the service.

import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';

export const BACKUPS_DIR = 'backups';
export const DEFAULT_BACKUPS_KEPT = 5;
export const DAILY_BACKUP_MS = 24 * 60 * 60_000;

export type BackupReason = 'daily' | 'pre-migration';

export interface BackupFile {
  path: string;
  takenAt: number;
  reason: BackupReason;
}

export function backupsDir(dataDir: string): string {
  return join(dataDir, BACKUPS_DIR);
}

// `salita-2026-12-01T21-05-30-123Z-daily.db`: the time in the name (not the file's mtime, which a copy changes),
// with the colons and the dot a file name on every OS can hold.
const stamp = (ms: number) => new Date(ms).toISOString().replace(/[:.]/g, '-');
const NAME = /^(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)-(daily|pre-migration)\.db$/;

/** The backups of `base` ("salita", "cloud") in `dir`, newest first. */
export function listBackups(dir: string, base: string): BackupFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found: BackupFile[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m || m[1] !== base) continue;
    const iso = m[2]!.replace(/^(\d{4}-\d{2}-\d{2}T\d{2})-(\d{2})-(\d{2})-(\d{3}Z)$/, '$1:$2:$3.$4');
    const takenAt = Date.parse(iso);
    if (Number.isFinite(takenAt)) found.push({ path: join(dir, name), takenAt, reason: m[3] as BackupReason });
  }
  return found.sort((a, b) => b.takenAt - a.takenAt);
}

export function latestBackup(dir: string, base: string): BackupFile | undefined {
  return listBackups(dir, base)[0];
}

/**
 * Writes a snapshot of `sqlite` to `<dir>/<base>-<time>-<reason>.db` (0600) and prunes to the newest `keep`.
 * Throws on failure (the caller logs it); a half-written file is removed, never left under a backup's name.
 */
export function takeBackup(
  sqlite: Database.Database,
  opts: { dir: string; base: string; reason: BackupReason; now?: number; keep?: number },
): BackupFile {
  const now = opts.now ?? Date.now();
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const path = join(opts.dir, `${opts.base}-${stamp(now)}-${opts.reason}.db`);
  const tmp = `${path}.partial`;
  // VACUUM INTO takes an empty file as its target: created here first so it is 0600 from its first byte.
  rmSync(tmp, { force: true });
  closeSync(openSync(tmp, 'wx', 0o600));
  try {
    sqlite.prepare('VACUUM INTO ?').run(tmp);
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  pruneBackups(opts.dir, opts.base, opts.keep ?? DEFAULT_BACKUPS_KEPT);
  return { path, takenAt: now, reason: opts.reason };
}

/** Removes all but the newest `keep` backups of `base`. */
export function pruneBackups(dir: string, base: string, keep: number): void {
  for (const old of listBackups(dir, base).slice(Math.max(1, keep))) rmSync(old.path, { force: true });
}

/**
 * The once-a-day backup: tick() (at start, then from an hourly timer) takes one when the newest backup of any
 * reason is a day old or there is none. Never throws: a failure goes to `log` and the next tick tries again.
 */
export class DailyBackup {
  constructor(
    private readonly opts: {
      sqlite: Database.Database;
      dir: string;
      base: string;
      keep?: number;
      now?: () => number;
      log: (msg: string, err?: unknown) => void;
    },
  ) {}

  tick(): BackupFile | undefined {
    try {
      const now = (this.opts.now ?? Date.now)();
      const newest = latestBackup(this.opts.dir, this.opts.base);
      if (newest && now - newest.takenAt < DAILY_BACKUP_MS && newest.takenAt <= now) return undefined;
      return takeBackup(this.opts.sqlite, {
        dir: this.opts.dir,
        base: this.opts.base,
        reason: 'daily',
        now,
        ...(this.opts.keep !== undefined ? { keep: this.opts.keep } : {}),
      });
    } catch (err) {
      this.opts.log(`backup of ${this.opts.base} into ${this.opts.dir} failed; the service goes on`, err);
      return undefined;
    }
  }
}
