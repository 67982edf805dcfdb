// The running node's desktop UI address (with this launch's admin token), kept 0600 in the data dir while the
// node runs, so its owner can get back into the desktop UI of a headless node after a restart or a lost
// terminal (`salita-headless --admin-url`). It gives nothing new to whoever can read it: the data dir already
// holds the node's private key and its storage key. Removed when the node stops.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './util/atomic-write.js';

export const ADMIN_URL_FILE = 'admin-url';

export function adminUrlPath(dataDir: string): string {
  return join(dataDir, ADMIN_URL_FILE);
}

export function writeAdminUrlFile(dataDir: string, url: string): void {
  writeFileAtomic(adminUrlPath(dataDir), `${url}\n`, 0o600);
}

/** The address a node wrote, or undefined when there is none (no node ran, or it stopped). */
export function readAdminUrlFile(dataDir: string): string | undefined {
  try {
    return readFileSync(adminUrlPath(dataDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Only this launch's file: a node that started later on the same data dir keeps its own. */
export function removeAdminUrlFile(dataDir: string, url: string): void {
  if (readAdminUrlFile(dataDir) === url) rmSync(adminUrlPath(dataDir), { force: true });
}
