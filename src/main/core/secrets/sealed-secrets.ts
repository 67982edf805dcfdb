// What the storage key protects, checked at start: the verification keys of live device sessions, the secrets
// of peer links, the cloud token in cloud.json. A new key while any of them exists would lock out every paired
// device (each signed request could no longer be checked), so a missing or wrong key stops the start with an
// error naming the file. `--reset-secrets` is the explicit way out: it revokes all of them and says so.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { CLOUD_STATE_FILE, CloudStateFile } from '../cloud/cloud-state-file.js';
import { DATABASE_FILE } from '../db/open-database.js';
import { keyFileSecretBox, type SecretBox, STORAGE_KEY_FILE, WRAPPED_STORAGE_KEY_FILE } from './secret-box.js';

export interface SealedCounts {
  /** Device sessions that are neither revoked nor expired (phones and desktops paired with this node). */
  sessions: number;
  /** Sessions this node holds on other desktops. */
  peerLinks: number;
  /** cloud.json holds a sealed login token. */
  cloudToken: boolean;
}

/** What --reset-secrets dropped. */
export type SecretsResetReport = SealedCounts;

export class StorageKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageKeyError';
  }
}

const anything = (c: SealedCounts) => c.sessions > 0 || c.peerLinks > 0 || c.cloudToken;

export function describeSealed(c: SealedCounts): string {
  const parts: string[] = [];
  if (c.sessions > 0) parts.push(`${c.sessions} device session(s) in ${DATABASE_FILE}`);
  if (c.peerLinks > 0) parts.push(`${c.peerLinks} peer link secret(s) in ${DATABASE_FILE}`);
  if (c.cloudToken) parts.push(`the cloud token in ${CLOUD_STATE_FILE}`);
  return parts.join(', ');
}

function sealedToken(dataDir: string): string | null {
  const file = join(dataDir, CLOUD_STATE_FILE);
  if (!existsSync(file)) return null;
  try {
    const sealed = (JSON.parse(readFileSync(file, 'utf8')) as { token_sealed?: unknown }).token_sealed;
    return typeof sealed === 'string' ? sealed : null;
  } catch {
    return null; // an unreadable cloud.json is the cloud link's to report (it keeps the file aside)
  }
}

const liveSessions = (sqlite: Database.Database, now: number) =>
  sqlite.prepare('SELECT hmac_key AS sealed FROM device_sessions WHERE revoked_at IS NULL AND expires_at > ?').all(now) as {
    sealed: string;
  }[];
const peerLinkSecrets = (sqlite: Database.Database) =>
  sqlite.prepare('SELECT device_secret AS sealed FROM peer_links').all() as { sealed: string }[];

export function countSealed(sqlite: Database.Database, dataDir: string, now = Date.now()): SealedCounts {
  return {
    sessions: liveSessions(sqlite, now).length,
    peerLinks: peerLinkSecrets(sqlite).length,
    cloudToken: sealedToken(dataDir) !== null,
  };
}

/** The sealed values `box` cannot open (a replaced or foreign key opens none of them). */
export function unopenable(sqlite: Database.Database, box: SecretBox, dataDir: string, now = Date.now()): SealedCounts {
  const fails = (sealed: string) => {
    try {
      box.open(sealed);
      return false;
    } catch {
      return true;
    }
  };
  const token = sealedToken(dataDir);
  return {
    sessions: liveSessions(sqlite, now).filter((r) => fails(r.sealed)).length,
    peerLinks: peerLinkSecrets(sqlite).filter((r) => fails(r.sealed)).length,
    cloudToken: token !== null && fails(token),
  };
}

/** Revokes every live device session, drops every peer link and the cloud token (URL and pinned key stay). */
export function resetSealed(sqlite: Database.Database, box: SecretBox, dataDir: string, now = Date.now()): SecretsResetReport {
  const sessions = sqlite
    .prepare('UPDATE device_sessions SET revoked_at = ? WHERE revoked_at IS NULL AND expires_at > ?')
    .run(new Date(now).toISOString(), now).changes;
  const peerLinks = sqlite.prepare('DELETE FROM peer_links').run().changes;
  let cloudToken = false;
  const state = new CloudStateFile(dataDir, box);
  if (sealedToken(dataDir) !== null) {
    const loaded = state.load();
    if (loaded.state) {
      state.save({ ...loaded.state, token: null, tokenExpiresAt: null, tokenIssuedAt: null });
      cloudToken = true;
    }
  }
  return { sessions, peerLinks, cloudToken };
}

/** The file that holds the key of `box`, for the error ("storage.key", or the keychain-wrapped "storage.key.os"). */
function keyFileOf(dataDir: string, box: SecretBox | undefined): string {
  if (box && box.kind === 'os-keychain') return join(dataDir, WRAPPED_STORAGE_KEY_FILE);
  if (box && box.kind !== 'key-file') return `the storage key (${box.kind})`;
  return join(dataDir, STORAGE_KEY_FILE);
}

const RESET_HINT =
  'or start once with --reset-secrets to revoke all of them: every paired phone and desktop must pair again, ' +
  'and the node must log in to the cloud again';

/**
 * The node's SecretBox, checked against what it sealed before. `given` is the Electron shell's keychain box;
 * without one, the 0600 key file, created only when nothing depends on a key yet (or when resetting).
 */
export function openCheckedSecretBox(opts: {
  dataDir: string;
  sqlite: Database.Database;
  given?: SecretBox;
  reset: boolean;
  now?: number;
}): { box: SecretBox; reset?: SecretsResetReport } {
  const now = opts.now ?? Date.now();
  const sealed = countSealed(opts.sqlite, opts.dataDir, now);
  let box = opts.given;
  if (!box) {
    const file = join(opts.dataDir, STORAGE_KEY_FILE);
    if (!existsSync(file) && !existsSync(join(opts.dataDir, WRAPPED_STORAGE_KEY_FILE)) && anything(sealed) && !opts.reset) {
      throw new StorageKeyError(
        `Salita storage key ${file} is missing, but ${describeSealed(sealed)} were sealed with it. ` +
          `Refusing to make a new key: every paired device would be locked out. Restore ${file} from a backup of this data dir and start again, ${RESET_HINT}.`,
      );
    }
    box = keyFileSecretBox(opts.dataDir, { replaceUnreadable: opts.reset });
  }
  if (opts.reset) return { box, reset: resetSealed(opts.sqlite, box, opts.dataDir, now) };
  const bad = unopenable(opts.sqlite, box, opts.dataDir, now);
  if (anything(bad)) {
    const file = keyFileOf(opts.dataDir, box);
    throw new StorageKeyError(
      `Salita storage key ${file} does not open ${describeSealed(bad)}: it was replaced, or belongs to another data dir. ` +
        `Restore the original ${file} from a backup of this data dir and start again, ${RESET_HINT}.`,
    );
  }
  return { box };
}
