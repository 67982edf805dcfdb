// The cloud's files: a lost cloud.key stops the start while nodes logged in with it (--reset-secrets revokes
// every token and says so), a damaged or emptied cloud.db stops it naming the newest backup, and a backup is kept.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { backupsDir, listBackups } from '../../src/server/db/sqlite-backup.js';
import { SQLITE_DAMAGES } from '../helpers/sqlite-damage.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'salita-cloud-data-'));
  dirs.push(d);
  return d;
};
const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');

async function login(cloud: RunningCloud, otp: MemoryOtpSender): Promise<string> {
  const key = NODE_X25519.generateKeyPair();
  const post = async (path: string, body: unknown) => {
    const res = await fetch(cloud.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const c = await post('/api/auth/challenge', { device_id: b64(key.publicKey), email: 'home@salita.test' });
  const v = await post('/api/auth/verify', { challenge_id: c.body.challenge_id, code: otp.codeFor(c.body.challenge_id) });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  return v.body.noise_session.token as string;
}

const me = async (cloud: RunningCloud, token: string) => {
  const res = await fetch(`${cloud.url}/api/me`, { headers: { authorization: `Noise ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
};

/** A cloud with one logged-in node, stopped; its token. */
async function cloudWithToken(dataDir: string) {
  const otp = new MemoryOtpSender();
  const cloud = await startCloud({ dataDir, port: 0, otpSender: otp, log: () => {} });
  const token = await login(cloud, otp);
  assert.equal((await me(cloud, token)).status, 200);
  await cloud.stop();
  return token;
}

describe('cloud.key', () => {
  it('deleted while tokens exist: the start refuses naming the file; --reset-secrets revokes every token and a new login works', async () => {
    const dataDir = tempDir();
    const token = await cloudWithToken(dataDir);
    const keyFile = join(dataDir, 'cloud.key');
    const oldKey = readFileSync(keyFile);
    rmSync(keyFile);
    await assert.rejects(
      startCloud({ dataDir, port: 0, log: () => {} }),
      (err: Error) =>
        err.message.includes(keyFile) &&
        /missing/.test(err.message) &&
        /--reset-secrets/.test(err.message) &&
        /cloud_key_changed/.test(err.message),
    );
    assert.throws(() => statSync(keyFile), 'no new key was made while refusing');

    const logs: string[] = [];
    const otp = new MemoryOtpSender();
    const cloud = await startCloud({ dataDir, port: 0, otpSender: otp, log: (m) => logs.push(m), resetSecrets: true });
    try {
      assert.deepEqual(cloud.secretsReset, { tokensRevoked: 1, nodes: 1 });
      assert.match(logs.join('\n'), /revoked 1 token\(s\).*cloud_key_changed/);
      assert.notDeepEqual(Buffer.from(cloud.publicKey), Buffer.from(NODE_X25519.publicKey(new Uint8Array(oldKey))));
      const old = await me(cloud, token);
      assert.equal(old.status, 401);
      assert.equal(old.body.error, 'token_revoked');
      assert.equal((await me(cloud, await login(cloud, otp))).status, 200);
    } finally {
      await cloud.stop();
    }
  });
});

describe('cloud.db', () => {
  for (const [name, damage] of Object.entries(SQLITE_DAMAGES)) {
    it(`${name} is a startup error naming the file and the newest backup`, async () => {
      const dataDir = tempDir();
      await cloudWithToken(dataDir);
      const file = join(dataDir, 'cloud.db');
      rmSync(`${file}-wal`, { force: true });
      rmSync(`${file}-shm`, { force: true });
      damage(file);
      const backup = listBackups(backupsDir(dataDir), 'cloud')[0];
      assert.ok(backup, 'the first start took a backup');
      assert.equal(statSync(backup.path).mode & 0o777, 0o600);
      await assert.rejects(
        startCloud({ dataDir, port: 0, log: () => {} }),
        (err: Error) => err.message.includes(file) && err.message.includes(backup.path),
      );
    });
  }

  it('restore from a backup brings the tokens back', async () => {
    const dataDir = tempDir();
    const token = await cloudWithToken(dataDir);
    // The next day's start takes the daily backup, now with the token in it.
    await (await startCloud({ dataDir, port: 0, log: () => {}, backupClock: () => Date.now() + 25 * 60 * 60_000 })).stop();
    const backups = listBackups(backupsDir(dataDir), 'cloud');
    assert.equal(backups.length, 2);
    const file = join(dataDir, 'cloud.db');
    writeFileSync(file, '');
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    copyFileSync(backups[0]!.path, file);
    const cloud = await startCloud({ dataDir, port: 0, log: () => {} });
    try {
      assert.equal((await me(cloud, token)).status, 200);
    } finally {
      await cloud.stop();
    }
  });
});
