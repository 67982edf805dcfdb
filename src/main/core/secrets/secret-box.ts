// Encryption at rest for the secrets the node must keep (per-device verification keys, secrets it holds on
// other desktops). The Electron shell passes a box backed by the OS keychain (safeStorage); headless, the key
// is a 0600 file in the data dir — it protects a copied database, not a fully compromised account.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fromBase64Url, toBase64Url } from '../../../shared/encoding.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export interface SecretBox {
  /** What protects the key, for logs and diagnostics ("os-keychain", "key-file"). */
  readonly kind: string;
  seal(plain: Uint8Array): string;
  open(sealed: string): Uint8Array;
}

export const STORAGE_KEY_FILE = 'storage.key';
/** The same key wrapped by the OS keychain (written by the Electron shell, src/main/index.ts). */
export const WRAPPED_STORAGE_KEY_FILE = 'storage.key.os';

export function aesGcmBox(key: Uint8Array, kind: string): SecretBox {
  if (key.length !== 32) throw new Error('storage key must be 32 bytes');
  return {
    kind,
    seal(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
      return `v1.${toBase64Url(iv)}.${toBase64Url(ct)}`;
    },
    open(sealed) {
      const parts = sealed.split('.');
      const [v, ivText, ctText] = parts;
      if (parts.length !== 3 || v !== 'v1' || !ivText || !ctText) throw new Error('sealed secret has an unknown format');
      const ct = fromBase64Url(ctText);
      if (ct.length < 16) throw new Error('sealed secret is truncated');
      const d = createDecipheriv('aes-256-gcm', key, fromBase64Url(ivText));
      d.setAuthTag(ct.subarray(ct.length - 16));
      return new Uint8Array(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]));
    },
  };
}

/** Headless: a random 32-byte key in `<dataDir>/storage.key` (0600), created on first use. */
export function keyFileSecretBox(dataDir: string, opts: { replaceUnreadable?: boolean } = {}): SecretBox {
  const file = join(dataDir, STORAGE_KEY_FILE);
  const wrapped = join(dataDir, WRAPPED_STORAGE_KEY_FILE);
  if (!existsSync(file) && existsSync(wrapped)) {
    // A new key file here would silently orphan every secret sealed under the keychain-held key.
    throw new Error(
      `This data dir keeps its storage key in the OS keychain (${wrapped}); the headless node cannot read it. Start the desktop app on it instead, or use another --data-dir.`,
    );
  }
  // --reset-secrets: an unreadable key opens nothing anyway; it is kept aside (not deleted) and a new one made.
  if (opts.replaceUnreadable && existsSync(file) && readKey(file) === undefined) renameSync(file, `${file}.unreadable-${Date.now()}`);
  if (!existsSync(file)) {
    writeFileAtomic(file, `${JSON.stringify({ version: 1, key: toBase64Url(randomBytes(32)) })}\n`, 0o600);
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new Error(`Salita storage key ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`);
  const key = readKey(file);
  if (!key)
    throw new Error(
      `Salita storage key ${file} is unreadable; restore it from a backup, or start once with --reset-secrets (every paired device must then pair again)`,
    );
  return aesGcmBox(key, 'key-file');
}

function readKey(file: string): Uint8Array | undefined {
  try {
    const key = fromBase64Url((JSON.parse(readFileSync(file, 'utf8')) as { key: string }).key);
    return key.length === 32 ? key : undefined;
  } catch {
    return undefined;
  }
}
