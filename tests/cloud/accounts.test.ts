// Accounts and households on the reference cloud (docs/cloud.md "Accounts"): a code mailed through a real SMTP
// server logs a real node in; nodes of one account see each other and nothing else (directory, replaced ids,
// prekeys, relay, blobs); the per-address and per-source limits and the per-account lockout hold under attack;
// the account lists, removes and signs out its nodes; the legacy device-id login only behind its flag.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LEGACY_DEVICE_LOGIN_FLAG } from '../../src/cloud/auth-service.js';
import { CLOUD_DATABASE_FILE, cloudMigrationsDir } from '../../src/cloud/db/open.js';
import * as schema from '../../src/cloud/db/schema.js';
import { LogOtpSender, MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { RELAY_CLOSE } from '../../src/cloud/relay-hub.js';
import { SmtpOtpSender } from '../../src/cloud/smtp-otp-sender.js';
import { loadOrCreateStaticKey } from '../../src/cloud/static-key.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { openMigratedSqlite } from '../../src/server/db/sqlite-file.js';
import { SmtpInbox } from '../helpers/smtp-inbox.js';
import { sqliteOnly, startTestCloud } from '../helpers/test-cloud.js';
import { cleanupAll, eventually, startTestNode } from '../helpers/test-node.js';
import { b64, call, joinAccount, listed, nextId, relayAnswer, withCloud } from './account-helpers.js';
import { createUpload, RelayListener, sha256Hex } from './blob-helpers.js';

describe('accounts: a code mailed through a real SMTP server', () => {
  let inbox: SmtpInbox;
  let sender: SmtpOtpSender;
  before(async () => {
    inbox = await SmtpInbox.start();
    sender = new SmtpOtpSender({ url: inbox.url, from: 'Salita <login@cloud.test>', fallback: new LogOtpSender(() => {}) });
  });
  after(async () => {
    sender.close();
    await inbox.stop();
    await cleanupAll();
  });

  it('logs a real node in: the mail names the node, its code connects it, and the node shows its account', () =>
    withCloud({ otpSender: sender }, async (cloud) => {
      const node = await startTestNode();
      const login = await node.admin('/api/admin/cloud/login', { body: { url: cloud.url, email: '  Ana@Example.ORG ' } });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(login.body.status, 'awaiting_code');
      assert.equal(login.body.email, 'ana@example.org', 'the address as the cloud keys it');
      const mail = inbox.to('ana@example.org').at(-1)!;
      assert.ok(mail, 'a mail to the account address');
      assert.match(mail.raw, /^From: Salita <login@cloud\.test>/m);
      assert.match(mail.raw, /^Subject: Your Salita sign-in code: \d{6}/m);
      // The reader can tell which node asked: the fingerprint the node's desktop UI shows.
      const fp = /fingerprint ([A-Z0-9-]+)/.exec(mail.raw)?.[1];
      assert.ok(fp && fp.length >= 19, mail.raw);
      const code = await inbox.code('ana@example.org');
      const r = await node.admin('/api/admin/cloud/code', { body: { code } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await eventually(async () => (await node.admin('/api/admin/cloud')).body.status === 'connected', 'connected');
      const view = (await node.admin('/api/admin/cloud')).body;
      assert.equal(view.email, 'ana@example.org');
      assert.equal(inbox.to('ana@example.org').length, 1, 'one code, one mail');
    }));

  it('a mail server that is down: 503 mail_unavailable, and the unsent code does not count against the address', async () => {
    const heard: string[] = [];
    const dead = new SmtpOtpSender({
      url: 'smtp://127.0.0.1:1',
      from: 'x@cloud.test',
      fallback: new LogOtpSender(() => {}),
      onError: (err, to) => heard.push(`${to}: ${err.message}`),
    });
    try {
      await withCloud({ otpSender: dead, limits: { maxCodesPerEmail: 1 } }, async (cloud) => {
        for (let i = 0; i < 2; i++) {
          const r = await call(cloud, 'POST', '/api/auth/challenge', undefined, {
            device_id: b64(NODE_X25519.generateKeyPair().publicKey),
            email: 'bo@example.org',
          });
          assert.equal(r.status, 503, JSON.stringify(r.body));
          assert.equal(r.body.error, 'mail_unavailable');
          assert.doesNotMatch(r.body.message, /127\.0\.0\.1|ECONNREFUSED/, "the mail server's words stay with the operator");
        }
        assert.equal(heard.length, 2, 'the operator hears each failure');
        assert.match(heard[0]!, /^bo@example\.org: /);
        assert.equal((await cloud.auth.loginRows()).challenges, 0);
      });
    } finally {
      dead.close();
    }
  });
});

describe('households: nodes of one account see each other, and nothing of anyone else', () => {
  const otp = new MemoryOtpSender();
  const codeOf = (id: string) => otp.codeFor(id);

  it('the directory, replaced ids, prekeys, the relay and blobs are scoped to the household', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const a1 = await joinAccount(cloud, 'ana@example.org', codeOf);
      const a2 = await joinAccount(cloud, 'ana@example.org', codeOf);
      const b = await joinAccount(cloud, 'bo@example.org', codeOf);
      const c = await joinAccount(cloud, 'cy@example.org', codeOf);

      assert.deepEqual(await listed(cloud, a1), [a1.device.id, a2.device.id].sort());
      assert.deepEqual(await listed(cloud, a2), [a1.device.id, a2.device.id].sort());
      // Not even a count: a third household's answer has its own device only.
      assert.deepEqual(await listed(cloud, c), [c.device.id]);
      assert.deepEqual(await listed(cloud, b), [b.device.id]);

      // Replaced ids: only the household's. a1 says its phone replaced an id it published before.
      const old = { device_id: `old-${process.pid}-${nextId()}`, keys: NODE_X25519.generateKeyPair() };
      const both = [
        { device_id: old.device_id, public_key: b64(old.keys.publicKey), name: 'old', kind: 'phone' },
        { device_id: a1.device.id, public_key: b64(a1.device.keys.publicKey), name: 'a1 phone', kind: 'phone' },
      ];
      assert.equal((await call(cloud, 'PUT', '/api/keys', a1.token, { devices: both })).status, 200);
      assert.equal((await call(cloud, 'PUT', '/api/keys', a1.token, { devices: both.slice(1) })).status, 200);
      const claim = await call(cloud, 'PUT', '/api/keys/replacements', a1.token, {
        replacements: [{ device_id: a1.device.id, replaces: [old.device_id] }],
      });
      assert.equal(claim.status, 200, JSON.stringify(claim.body));
      assert.equal((await call(cloud, 'GET', '/api/keys/replacements', a2.token)).body.replacements.length, 1);
      assert.deepEqual((await call(cloud, 'GET', '/api/keys/replacements', b.token)).body.replacements, []);

      // Prekeys: another household's device is as unknown as one that does not exist.
      const claimB = await call(cloud, 'POST', `/api/keys/${encodeURIComponent(a1.device.id)}/prekeys/claim`, b.token);
      assert.equal(claimB.status, 404);
      assert.equal(claimB.body.error, 'unknown_recipient');
      const claimA = await call(cloud, 'POST', `/api/keys/${encodeURIComponent(a1.device.id)}/prekeys/claim`, a2.token);
      assert.equal(claimA.body.error, 'no_prekeys', 'the household gets past visibility (nothing published yet)');

      // The relay refuses an envelope from another household, and carries one within the household.
      assert.equal(await relayAnswer(cloud, b, a1), 'not_a_contact');
      assert.equal(await relayAnswer(cloud, a2, a1), 'accepted');

      // Blobs: an upload for another household's node is refused before a byte is stored.
      const bytes = new Uint8Array(100).fill(7);
      const up = await createUpload(cloud, b, {
        size: bytes.length,
        sha256: sha256Hex(bytes),
        to: { [a1.id]: [a1.device.id] },
        from: b.device.id,
      });
      assert.equal(up.status, 403, up.text);
      assert.equal(up.json.error, 'not_a_contact');
      const home = await createUpload(cloud, a2, {
        size: bytes.length,
        sha256: sha256Hex(bytes),
        to: { [a1.id]: [a1.device.id] },
        from: a2.device.id,
      });
      assert.equal(home.status, 201, home.text);
    }));

  it('a node that logs in to another address moves household: it no longer sees the old one, nor is seen', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const a1 = await joinAccount(cloud, 'ana@example.org', codeOf);
      const moving = await joinAccount(cloud, 'ana@example.org', codeOf);
      assert.equal((await listed(cloud, a1)).length, 2);
      const c = await call(cloud, 'POST', '/api/auth/challenge', undefined, { device_id: moving.id, email: 'bo@example.org' });
      const v = await call(cloud, 'POST', '/api/auth/verify', undefined, {
        challenge_id: c.body.challenge_id,
        code: otp.codeFor(c.body.challenge_id),
      });
      assert.equal(v.status, 200);
      assert.deepEqual(await listed(cloud, a1), [a1.device.id]);
      assert.deepEqual(await listed(cloud, { ...moving, token: v.body.noise_session.token }), [moving.device.id]);
    }));
});

describe('accounts: limits on mail and guesses', () => {
  it('at most maxCodesPerEmail unused codes to one address; a used code does not count', () => {
    const otp = new MemoryOtpSender();
    return withCloud({ otpSender: otp, limits: { maxCodesPerEmail: 3 } }, async (cloud) => {
      const ask = (email: string) =>
        call(cloud, 'POST', '/api/auth/challenge', undefined, { device_id: b64(NODE_X25519.generateKeyPair().publicKey), email });
      const first = await ask('ana@example.org');
      assert.equal(first.status, 200);
      assert.equal((await ask('ana@example.org')).status, 200);
      assert.equal((await ask('ana@example.org')).status, 200);
      const over = await ask('ana@example.org');
      assert.equal(over.status, 429, JSON.stringify(over.body));
      assert.equal(over.body.error, 'too_many_attempts');
      assert.ok(Number(over.body.retry_after) > 0);
      assert.equal(otp.sent.filter((m) => m.email === 'ana@example.org').length, 3, 'no fourth mail went out');
      // Another address is not affected; using one of the codes makes room for one more.
      assert.equal((await ask('bo@example.org')).status, 200);
      const v = await call(cloud, 'POST', '/api/auth/verify', undefined, {
        challenge_id: first.body.challenge_id,
        code: otp.codeFor(first.body.challenge_id),
      });
      assert.equal(v.status, 200);
      assert.equal((await ask('ana@example.org')).status, 200);
    });
  });

  it('one source address asking codes for many addresses is capped (the cloud is no mail cannon)', () => {
    const otp = new MemoryOtpSender();
    return withCloud({ otpSender: otp, limits: { maxCodesPerSource: 4 } }, async (cloud) => {
      const ask = (email: string, from: string) =>
        call(cloud, 'POST', '/api/auth/challenge', undefined, { device_id: b64(NODE_X25519.generateKeyPair().publicKey), email }, from);
      for (let i = 0; i < 4; i++) assert.equal((await ask(`victim${i}@example.org`, '127.0.0.90')).status, 200);
      const over = await ask('victim9@example.org', '127.0.0.90');
      assert.equal(over.status, 429, JSON.stringify(over.body));
      assert.equal((await ask('victim9@example.org', '127.0.0.91')).status, 200, 'another source address is not affected');
    });
  });

  it("guessing one account's codes with fresh node keys from many source addresses locks the account", () => {
    const otp = new MemoryOtpSender();
    // Off the mail limit here (5 unused codes would stop this guesser first): this is about the lockout.
    return withCloud({ otpSender: otp, limits: { maxCodesPerEmail: 100 } }, async (cloud) => {
      const email = 'ana@example.org';
      // The owner's real login is under way; the attacker asks codes (mailed to the owner) for keys of its own.
      const owner = await call(cloud, 'POST', '/api/auth/challenge', undefined, {
        device_id: b64(NODE_X25519.generateKeyPair().publicKey),
        email,
      });
      for (let i = 0; i < 5; i++) {
        const from = `127.0.0.${100 + i}`;
        const c = await call(
          cloud,
          'POST',
          '/api/auth/challenge',
          undefined,
          { device_id: b64(NODE_X25519.generateKeyPair().publicKey), email },
          from,
        );
        assert.equal(c.status, 200, JSON.stringify(c.body));
        const real = otp.codeFor(c.body.challenge_id);
        const guess = real === '000000' ? '000001' : '000000';
        const v = await call(cloud, 'POST', '/api/auth/verify', undefined, { challenge_id: c.body.challenge_id, code: guess }, from);
        assert.equal(v.body.error, 'otp_invalid');
        // The guesser used 5 node keys and 5 addresses, each of them under its own limits.
      }
      // Locked for this account: even a right code is refused now, and no new code is mailed.
      const locked = await call(cloud, 'POST', '/api/auth/verify', undefined, {
        challenge_id: owner.body.challenge_id,
        code: otp.codeFor(owner.body.challenge_id),
      });
      assert.equal(locked.status, 429, JSON.stringify(locked.body));
      const sent = otp.sent.length;
      const again = await call(cloud, 'POST', '/api/auth/challenge', undefined, {
        device_id: b64(NODE_X25519.generateKeyPair().publicKey),
        email,
      });
      assert.equal(again.status, 429);
      assert.equal(otp.sent.length, sent);
      // Another account is not affected.
      assert.ok(await joinAccount(cloud, 'bo@example.org', (id) => otp.codeFor(id)));
    });
  });

  it('a bad address is a 400 invalid_request, never a mail', () => {
    const otp = new MemoryOtpSender();
    return withCloud({ otpSender: otp }, async (cloud) => {
      for (const email of ['not-an-address', 'a@b', `${'x'.repeat(250)}@example.org`, 'ana@example.org\r\nBcc: eve@example.org', 42]) {
        const r = await call(cloud, 'POST', '/api/auth/challenge', undefined, {
          device_id: b64(NODE_X25519.generateKeyPair().publicKey),
          email,
        });
        assert.equal(r.status, 400, `${JSON.stringify(email)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'invalid_request');
      }
      assert.equal(otp.sent.length, 0);
    });
  });
});

describe('account management', () => {
  const otp = new MemoryOtpSender();
  const codeOf = (id: string) => otp.codeFor(id);

  it('lists the nodes and devices; removes a node (token revoked, socket closed, devices gone); signs out everywhere', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const a1 = await joinAccount(cloud, 'ana@example.org', codeOf, 'Ana desktop');
      const a2 = await joinAccount(cloud, 'ana@example.org', codeOf, 'Ana laptop');
      const b = await joinAccount(cloud, 'bo@example.org', codeOf, 'Bo desktop');
      const socket = await RelayListener.connect(cloud, a2);

      const acct = await call(cloud, 'GET', '/api/account', a1.token);
      assert.equal(acct.status, 200, JSON.stringify(acct.body));
      assert.equal(acct.body.account.email, 'ana@example.org');
      assert.deepEqual(
        acct.body.nodes.map((n: any) => [n.name, n.self, n.connected, n.devices.map((d: any) => d.device_id)]),
        [
          ['Ana desktop', true, false, [a1.device.id]],
          ['Ana laptop', false, true, [a2.device.id]],
        ],
      );
      assert.equal((await call(cloud, 'GET', '/api/account', b.token)).body.nodes.length, 1, "Bo's account is Bo's alone");

      // Another account's node cannot be removed (nor is it named as existing).
      const foreign = await call(cloud, 'DELETE', `/api/account/nodes/${b.id}`, a1.token);
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.error, 'node_not_in_account');

      const closed = new Promise<number>((resolve) => socket.ws.once('close', (code) => resolve(code)));
      const rm = await call(cloud, 'DELETE', `/api/account/nodes/${a2.id}`, a1.token);
      assert.equal(rm.status, 200, JSON.stringify(rm.body));
      assert.equal(rm.body.tokens_revoked, 1);
      assert.equal(await closed, RELAY_CLOSE.unauthorized);
      assert.equal((await call(cloud, 'GET', '/api/keys', a2.token)).body.error, 'token_revoked');
      assert.deepEqual(await listed(cloud, a1), [a1.device.id], "the removed node's devices left the directory");
      assert.equal((await call(cloud, 'GET', '/api/account', a1.token)).body.nodes.length, 1);

      const out = await call(cloud, 'POST', '/api/account/sign-out', a1.token);
      assert.equal(out.status, 200, JSON.stringify(out.body));
      assert.deepEqual(out.body, { nodes: 1, tokens_revoked: 1 });
      assert.equal((await call(cloud, 'GET', '/api/account', a1.token)).status, 401);
      assert.equal((await call(cloud, 'GET', '/api/account', b.token)).status, 200, 'other accounts stay signed in');
    }));
});

describe('the legacy device-id login', () => {
  const otp = new MemoryOtpSender();
  const codeOf = (id: string) => otp.codeFor(id);

  it('is refused on a new cloud; behind its flag its nodes are one household apart from every account; off again, their tokens stop', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const refused = await call(cloud, 'POST', '/api/auth/challenge', undefined, {
        device_id: b64(NODE_X25519.generateKeyPair().publicKey),
      });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, 'email_required');
      assert.equal((await call(cloud, 'GET', '/healthz')).body.flags[LEGACY_DEVICE_LOGIN_FLAG], false);

      await cloud.auth.setFlag(LEGACY_DEVICE_LOGIN_FLAG, true);
      const l1 = await joinAccount(cloud, undefined, codeOf);
      const l2 = await joinAccount(cloud, undefined, codeOf);
      const a = await joinAccount(cloud, 'ana@example.org', codeOf);
      assert.deepEqual(await listed(cloud, l1), [l1.device.id, l2.device.id].sort());
      assert.deepEqual(await listed(cloud, a), [a.device.id]);
      assert.equal((await call(cloud, 'GET', '/api/account', l1.token)).body.account.email, null);

      await cloud.auth.setFlag(LEGACY_DEVICE_LOGIN_FLAG, false);
      const gone = await call(cloud, 'GET', '/api/keys', l1.token);
      assert.equal(gone.status, 401);
      assert.equal(gone.body.error, 'email_required');
      assert.equal((await call(cloud, 'GET', '/api/keys', a.token)).status, 200);
    }));
});

describe('a cloud upgraded with nodes on it', () => {
  it('keeps them working: they become the legacy household and the legacy login stays on until the operator turns it off', {
    skip: sqliteOnly,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-accounts-upgrade-'));
    try {
      // The database as the release before accounts left it: two nodes with a token and a device each.
      const older = join(dir, 'migrations-before-accounts');
      cpSync(cloudMigrationsDir(), older, { recursive: true });
      const journalFile = join(older, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalFile, 'utf8'));
      journal.entries = journal.entries.filter((e: { tag: string }) => e.tag < '0006');
      writeFileSync(journalFile, JSON.stringify(journal));
      const data = join(dir, 'data');
      mkdirSync(data);
      loadOrCreateStaticKey(data);
      const old = openMigratedSqlite({
        file: join(data, CLOUD_DATABASE_FILE),
        schema,
        migrationsFolder: older,
        label: 'cloud database',
        backupBase: 'cloud',
        whatElse: 'x',
      });
      const nodes = [0, 1].map(() => {
        const id = b64(NODE_X25519.generateKeyPair().publicKey);
        const token = randomBytes(32).toString('base64url');
        const tokenHash = createHash('sha256').update(token).digest('base64url');
        const at = new Date().toISOString();
        const until = new Date(Date.now() + 3_600_000).toISOString();
        old.sqlite
          .prepare('INSERT INTO auth_tokens (token_hash, device_id, noise_session_id, created_at, expires_at) VALUES (?, ?, NULL, ?, ?)')
          .run(tokenHash, id, at, until);
        const device = `phone-${process.pid}-${nextId()}`;
        old.sqlite
          .prepare("INSERT INTO directory_devices (device_id, node, public_key, name, kind, updated_at) VALUES (?, ?, ?, 'p', 'phone', ?)")
          .run(device, id, b64(NODE_X25519.generateKeyPair().publicKey), at);
        return { id, token, device };
      });
      old.close();

      const cloud = await startTestCloud({ dataDir: data, port: 0, log: () => {}, otpSender: new MemoryOtpSender() });
      try {
        assert.equal((await call(cloud, 'GET', '/healthz')).body.flags[LEGACY_DEVICE_LOGIN_FLAG], true);
        // The key log starts with the devices that were there: one publish leaf each, once.
        assert.equal((await call(cloud, 'GET', '/api/keys/log/head', nodes[0]!.token)).body.size, 2);
        for (const n of nodes) {
          const r = await call(cloud, 'GET', '/api/keys', n.token);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.deepEqual(r.body.devices.map((d: { device_id: string }) => d.device_id).sort(), nodes.map((x) => x.device).sort());
          assert.equal((await call(cloud, 'GET', '/api/account', n.token)).body.account.email, null);
        }
      } finally {
        await cloud.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
