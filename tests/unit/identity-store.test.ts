// Identity store: created once, reloaded unchanged, never silently replaced when a file is damaged.

import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  IDENTITY_FILE,
  IdentityError,
  loadOrCreateIdentity,
  PRIVATE_KEY_FILE,
  renameIdentity,
} from '../../src/main/core/identity/identity-store.js';
import { fromBase64Url, toBase64Url } from '../../src/shared/encoding.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'salita-unit-identity-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const UUIDV7_NODE_ID = /^node-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** X25519 public key from a raw private key using node:crypto only (independent of @noble/curves). */
function nodeX25519Public(priv: Uint8Array): Uint8Array {
  const pkcs8Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');
  const key = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, priv]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    out[f] = statSync(p).isDirectory() ? '<dir>' : readFileSync(p, 'utf8');
  }
  return out;
}

function assertIdentityError(fn: () => unknown, file: string): IdentityError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof IdentityError, `expected IdentityError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.ok(caught.message.includes(file), `message should name ${file}: ${caught.message}`);
  return caught;
}

test('first start creates a complete identity', () => {
  const dir = freshDir();
  const before = Date.now();
  const { identity, created } = loadOrCreateIdentity(dir);
  const afterMs = Date.now();
  assert.equal(created, true);
  assert.match(identity.nodeId, UUIDV7_NODE_ID);
  assert.equal(identity.name, hostname().trim() || 'Salita node');
  const t = Date.parse(identity.createdAt);
  assert.ok(Number.isFinite(t));
  assert.equal(new Date(t).toISOString(), identity.createdAt, 'created_at is an ISO-8601 UTC timestamp');
  assert.ok(t >= before - 1 && t <= afterMs + 1, 'created_at is the creation time');
  assert.equal(identity.publicKey.length, 32);
  assert.equal(identity.privateKey.length, 32);
  assert.deepEqual(nodeX25519Public(identity.privateKey), identity.publicKey, 'public key derives from the private key');
  assert.match(identity.fingerprint, /^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
  assert.equal(identity.fingerprint.length, 19);

  const idJson = JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8'));
  assert.equal(idJson.version, 1);
  assert.equal(idJson.node_id, identity.nodeId);
  assert.equal(idJson.name, identity.name);
  assert.equal(idJson.created_at, identity.createdAt);
  assert.equal(idJson.public_key, toBase64Url(identity.publicKey));
  assert.equal(idJson.private_key, undefined, 'the private key never goes into identity.json');
  assert.ok(!readFileSync(join(dir, IDENTITY_FILE), 'utf8').includes(toBase64Url(identity.privateKey)));

  const keyJson = JSON.parse(readFileSync(join(dir, PRIVATE_KEY_FILE), 'utf8'));
  assert.deepEqual(fromBase64Url(keyJson.private_key), identity.privateKey);
  assert.equal(statSync(join(dir, PRIVATE_KEY_FILE)).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, IDENTITY_FILE)).mode & 0o077 & 0o022, 0, 'identity.json not group/world writable');

  // Atomic writes leave no temp files behind.
  assert.deepEqual(readdirSync(dir).sort(), [IDENTITY_FILE, PRIVATE_KEY_FILE].sort());
});

test('a given default name is used; an invalid one falls back', () => {
  assert.equal(loadOrCreateIdentity(freshDir(), '  Study PC  ').identity.name, 'Study PC');
  assert.equal(loadOrCreateIdentity(freshDir(), '   ').identity.name, 'Salita node');
  assert.equal(loadOrCreateIdentity(freshDir(), 'x'.repeat(65)).identity.name, 'Salita node');
});

test('two data dirs get different identities', () => {
  const a = loadOrCreateIdentity(freshDir()).identity;
  const b = loadOrCreateIdentity(freshDir()).identity;
  assert.notEqual(a.nodeId, b.nodeId);
  assert.notDeepEqual(a.publicKey, b.publicKey);
});

test('load returns the same identity and does not rewrite the files', () => {
  const dir = freshDir();
  const first = loadOrCreateIdentity(dir, 'Desk').identity;
  const files = snapshot(dir);
  const second = loadOrCreateIdentity(dir, 'Other default');
  assert.equal(second.created, false);
  assert.deepEqual(second.identity, first);
  assert.deepEqual(snapshot(dir), files);
  // The reloaded key still works for key agreement.
  const peerPriv = new Uint8Array(32).fill(7);
  const a = diffieHellman({
    privateKey: createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), second.identity.privateKey]),
      format: 'der',
      type: 'pkcs8',
    }),
    publicKey: createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), nodeX25519Public(peerPriv)]),
      format: 'der',
      type: 'spki',
    }),
  });
  assert.equal(a.length, 32);
});

test('creates a missing data dir (nested)', () => {
  const dir = join(freshDir(), 'a', 'b');
  const { created } = loadOrCreateIdentity(dir);
  assert.equal(created, true);
  assert.ok(statSync(join(dir, IDENTITY_FILE)).isFile());
});

function damaged(damage: (dir: string) => void, badFile: (dir: string) => string) {
  const dir = freshDir();
  loadOrCreateIdentity(dir);
  damage(dir);
  const files = snapshot(dir);
  const err = assertIdentityError(() => loadOrCreateIdentity(dir), badFile(dir));
  assert.deepEqual(snapshot(dir), files, 'nothing was replaced or added');
  // A second start fails the same way: still no quiet regeneration.
  assertIdentityError(() => loadOrCreateIdentity(dir), badFile(dir));
  return err;
}

test('corrupt identity.json is an error naming the file, and the file is kept', () => {
  const err = damaged(
    (d) => writeFileSync(join(d, IDENTITY_FILE), '{"version": 1, "node_id": '),
    (d) => join(d, IDENTITY_FILE),
  );
  assert.match(err.message, /not valid JSON/);
});

test('identity.json with wrong content is an error naming the file', () => {
  damaged(
    (d) => {
      const j = JSON.parse(readFileSync(join(d, IDENTITY_FILE), 'utf8'));
      writeFileSync(join(d, IDENTITY_FILE), JSON.stringify({ ...j, node_id: 'not-a-node-id' }));
    },
    (d) => join(d, IDENTITY_FILE),
  );
  damaged(
    (d) => writeFileSync(join(d, IDENTITY_FILE), ''),
    (d) => join(d, IDENTITY_FILE),
  );
  damaged(
    (d) => writeFileSync(join(d, IDENTITY_FILE), 'null'),
    (d) => join(d, IDENTITY_FILE),
  );
});

test('corrupt key file is an error naming the key file', () => {
  damaged(
    (d) => writeFileSync(join(d, PRIVATE_KEY_FILE), '\u0000\u0001garbage', { mode: 0o600 }),
    (d) => join(d, PRIVATE_KEY_FILE),
  );
});

test('truncated key is an error naming the key file', () => {
  damaged(
    (d) => {
      const p = join(d, PRIVATE_KEY_FILE);
      const j = JSON.parse(readFileSync(p, 'utf8'));
      writeFileSync(p, JSON.stringify({ ...j, private_key: j.private_key.slice(0, 20) }));
    },
    (d) => join(d, PRIVATE_KEY_FILE),
  );
  // Truncated mid-file (torn write).
  damaged(
    (d) => {
      const p = join(d, PRIVATE_KEY_FILE);
      writeFileSync(p, readFileSync(p, 'utf8').slice(0, 30));
    },
    (d) => join(d, PRIVATE_KEY_FILE),
  );
});

test('a key that does not match the public key is an error naming the key file', () => {
  const err = damaged(
    (d) => {
      const p = join(d, PRIVATE_KEY_FILE);
      writeFileSync(p, JSON.stringify({ version: 1, private_key: toBase64Url(new Uint8Array(32).fill(9)) }));
    },
    (d) => join(d, PRIVATE_KEY_FILE),
  );
  assert.match(err.message, /does not match/);
});

test('unreadable identity file is an error naming it', () => {
  // We may run as root, where mode bits do not stop reads: a directory in place of the file cannot be read either.
  const err = damaged(
    (d) => {
      unlinkSync(join(d, IDENTITY_FILE));
      mkdirSync(join(d, IDENTITY_FILE));
    },
    (d) => join(d, IDENTITY_FILE),
  );
  assert.match(err.message, /cannot be read/);
  damaged(
    (d) => {
      unlinkSync(join(d, PRIVATE_KEY_FILE));
      mkdirSync(join(d, PRIVATE_KEY_FILE));
    },
    (d) => join(d, PRIVATE_KEY_FILE),
  );
});

test('one file missing is an error, never a new identity', () => {
  damaged(
    (d) => unlinkSync(join(d, PRIVATE_KEY_FILE)),
    (d) => join(d, PRIVATE_KEY_FILE),
  );
  damaged(
    (d) => unlinkSync(join(d, IDENTITY_FILE)),
    (d) => join(d, IDENTITY_FILE),
  );
});

test('a key file readable by others is refused', () => {
  const err = damaged(
    (d) => chmodSync(join(d, PRIVATE_KEY_FILE), 0o644),
    (d) => join(d, PRIVATE_KEY_FILE),
  );
  assert.match(err.message, /chmod 600/);
});

test('rename persists across reloads and keeps everything else', () => {
  const dir = freshDir();
  const original = loadOrCreateIdentity(dir, 'Old name').identity;
  const keyBefore = readFileSync(join(dir, PRIVATE_KEY_FILE), 'utf8');
  const renamed = renameIdentity(dir, original, '  Living room  ');
  assert.equal(renamed.name, 'Living room');
  assert.equal(original.name, 'Old name', 'the input object is not mutated');
  const reloaded = loadOrCreateIdentity(dir, 'ignored');
  assert.equal(reloaded.created, false);
  assert.equal(reloaded.identity.name, 'Living room');
  assert.equal(reloaded.identity.nodeId, original.nodeId);
  assert.equal(reloaded.identity.createdAt, original.createdAt);
  assert.deepEqual(reloaded.identity.publicKey, original.publicKey);
  assert.equal(readFileSync(join(dir, PRIVATE_KEY_FILE), 'utf8'), keyBefore, 'the key file is untouched');
  assert.deepEqual(readdirSync(dir).sort(), [IDENTITY_FILE, PRIVATE_KEY_FILE].sort(), 'no temp files left');
});

test('rename to an invalid name throws and leaves the file unchanged', () => {
  const dir = freshDir();
  const id = loadOrCreateIdentity(dir, 'Keep me').identity;
  const before = readFileSync(join(dir, IDENTITY_FILE), 'utf8');
  assert.throws(() => renameIdentity(dir, id, '   '));
  assert.throws(() => renameIdentity(dir, id, 'y'.repeat(65)));
  assert.equal(readFileSync(join(dir, IDENTITY_FILE), 'utf8'), before);
  assert.equal(loadOrCreateIdentity(dir).identity.name, 'Keep me');
});
