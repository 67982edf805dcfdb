// The node's persistent identity. Losing or silently replacing it would break every pairing, so:
// created once, written atomically, the private key 0600, and anything unreadable is a startup error
// that names the file — never a quiet regeneration.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { fromBase64Url, toBase64Url } from '../../../shared/encoding.js';
import { fingerprintOf } from '../../../shared/fingerprint.js';
import { DisplayName } from '../../../shared/wire/schemas.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const IDENTITY_FILE = 'identity.json';
export const PRIVATE_KEY_FILE = 'identity.key';

export interface NodeIdentity {
  nodeId: string;
  name: string;
  createdAt: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
  fingerprint: string;
}

export class IdentityError extends Error {
  constructor(
    public readonly file: string,
    reason: string,
  ) {
    super(
      `Salita identity file ${file} is unusable: ${reason}. ` +
        'Refusing to create a new identity, because that would silently break every pairing. ' +
        'Restore the file from a backup, or move the data directory away to start as a new node.',
    );
    this.name = 'IdentityError';
  }
}

const IdentityFileSchema = z.object({
  version: z.literal(1),
  node_id: z.string().regex(/^node-[0-9a-f-]{36}$/),
  name: DisplayName,
  created_at: z.string().datetime(),
  public_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});

const KeyFileSchema = z.object({ version: z.literal(1), private_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new IdentityError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new IdentityError(file, 'is not valid JSON');
  }
}

export function loadOrCreateIdentity(
  dataDir: string,
  defaultName: string = hostname() || 'Salita node',
): { identity: NodeIdentity; created: boolean } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const idFile = join(dataDir, IDENTITY_FILE);
  const keyFile = join(dataDir, PRIVATE_KEY_FILE);
  const haveId = existsSync(idFile);
  const haveKey = existsSync(keyFile);

  if (!haveId && !haveKey) return { identity: createIdentity(dataDir, defaultName), created: true };
  if (!haveId) throw new IdentityError(idFile, `is missing while ${keyFile} exists`);
  if (!haveKey) throw new IdentityError(keyFile, `is missing while ${idFile} exists`);

  const parsedId = IdentityFileSchema.safeParse(readJson(idFile));
  if (!parsedId.success) throw new IdentityError(idFile, `has unexpected content (${parsedId.error.issues[0]?.message ?? 'invalid'})`);
  const parsedKey = KeyFileSchema.safeParse(readJson(keyFile));
  if (!parsedKey.success) throw new IdentityError(keyFile, 'has unexpected content');

  const mode = statSync(keyFile).mode & 0o777;
  if (mode & 0o077) throw new IdentityError(keyFile, `is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`);

  const privateKey = fromBase64Url(parsedKey.data.private_key);
  const publicKey = fromBase64Url(parsedId.data.public_key);
  const derived = x25519.getPublicKey(privateKey);
  if (toBase64Url(derived) !== parsedId.data.public_key) {
    throw new IdentityError(keyFile, `does not match the public key in ${idFile}`);
  }
  return {
    identity: {
      nodeId: parsedId.data.node_id,
      name: parsedId.data.name,
      createdAt: parsedId.data.created_at,
      publicKey,
      privateKey,
      fingerprint: fingerprintOf(publicKey),
    },
    created: false,
  };
}

function createIdentity(dataDir: string, name: string): NodeIdentity {
  const privateKey = x25519.utils.randomSecretKey();
  const publicKey = x25519.getPublicKey(privateKey);
  const identity: NodeIdentity = {
    nodeId: `node-${uuidv7()}`,
    name: DisplayName.safeParse(name).success ? name.trim() : 'Salita node',
    createdAt: new Date().toISOString(),
    publicKey,
    privateKey,
    fingerprint: fingerprintOf(publicKey),
  };
  // Key first: an identity.json without its key is reported as an error on the next start, the reverse too,
  // but writing the secret first means a crash in between leaves nothing that claims to be usable.
  writeFileAtomic(join(dataDir, PRIVATE_KEY_FILE), `${JSON.stringify({ version: 1, private_key: toBase64Url(privateKey) })}\n`, 0o600);
  writeIdentityFile(dataDir, identity);
  return identity;
}

function writeIdentityFile(dataDir: string, identity: NodeIdentity): void {
  const body = {
    version: 1,
    node_id: identity.nodeId,
    name: identity.name,
    created_at: identity.createdAt,
    public_key: toBase64Url(identity.publicKey),
  };
  writeFileAtomic(join(dataDir, IDENTITY_FILE), `${JSON.stringify(body, null, 2)}\n`, 0o644);
}

/** Renames the node; returns the updated identity (the caller keeps the one in-memory copy). */
export function renameIdentity(dataDir: string, identity: NodeIdentity, name: string): NodeIdentity {
  const next = { ...identity, name: DisplayName.parse(name) };
  writeIdentityFile(dataDir, next);
  return next;
}
