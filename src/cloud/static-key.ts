// The cloud's persistent X25519 static key: <dataDir>/cloud.key, 32 raw bytes, mode 0600, written atomically,
// never silently replaced (a malformed file is an error, not a reason to make a new key).
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_X25519 } from '../server/crypto/node-noise.js';
import type { KeyPair } from '../shared/crypto/noise/index.js';

export const CLOUD_KEY_FILE = 'cloud.key';

/**
 * `refuseNew`, when set, is why a new key may not be made now (what depends on the old one): a missing file is
 * then an error naming it.
 */
export function loadOrCreateStaticKey(dataDir: string, refuseNew?: string): KeyPair {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, CLOUD_KEY_FILE);
  if (existsSync(file)) {
    const raw = readFileSync(file);
    if (raw.length !== 32) throw new Error(`${file} is not a 32-byte X25519 private key (${raw.length} bytes); refusing to replace it`);
    const privateKey = new Uint8Array(raw);
    return { privateKey, publicKey: NODE_X25519.publicKey(privateKey) };
  }
  if (refuseNew) {
    throw new Error(
      `cloud key ${file} is missing, but ${refuseNew}. Refusing to make a new key: the old tokens would go on working while every node sees another key. ` +
        `Restore ${file} from a backup of this data dir and start again, or start once with --reset-secrets to revoke every token ` +
        '(each node then reports cloud_key_changed, and must accept the new key and log in again).',
    );
  }
  const kp = NODE_X25519.generateKeyPair();
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, kp.privateKey, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return kp;
}
