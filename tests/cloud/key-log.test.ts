// The key directory's log on the reference cloud (docs/key-transparency.md): every publish, key change and
// removal is a leaf; heads are signed by the cloud's key; each device's latest leaf is proven in the head; a
// newer head is proven to extend an older one; proofs for another household's devices are not given; and a
// cloud that rewrote a leaf under a head someone kept cannot prove consistency with it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { fromBase64Url } from '../../src/shared/encoding.js';
import { appendLeaves, EMPTY_RANGE, rangeRoot } from '../../src/shared/transparency/compact-range.js';
import {
  hashOfLeaf,
  headSignedBy,
  type KeyLogHead,
  type KeyLogLeaf,
  leafContentHash,
  leafTag,
  logLeafHash,
} from '../../src/shared/transparency/key-log.js';
import { verifyConsistency, verifyInclusion } from '../../src/shared/transparency/merkle.js';
import { rewriteFirstLeaf } from '../helpers/key-log-forgery.js';
import { sqliteOnly } from '../helpers/test-cloud.js';
import { b64, call, joinAccount, withCloud } from './account-helpers.js';

const otp = new MemoryOtpSender();
const codeOf = (id: string) => otp.codeFor(id);

const included = (e: { index: number; leaf: KeyLogLeaf; proof: string[] }, head: KeyLogHead) =>
  verifyInclusion(hashOfLeaf(e.leaf, e.index), e.index, head.size, e.proof.map(fromBase64Url), fromBase64Url(head.root));
const consistent = (from: KeyLogHead, to: KeyLogHead, proof: string[]) =>
  verifyConsistency(from.size, to.size, fromBase64Url(from.root), fromBase64Url(to.root), proof.map(fromBase64Url));

describe('the key log', () => {
  it('records publishes, key changes and removals; proves them in signed heads; proves each head extends the last', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      const bo = await joinAccount(cloud, 'bo@example.org', codeOf);
      const head1 = (await call(cloud, 'GET', '/api/keys/log/head', ana.token)).body as KeyLogHead;
      assert.equal(head1.size, 2, 'one publish leaf per joined phone');
      assert.ok(headSignedBy(cloud.publicKey, head1), "signed by the cloud's key");
      assert.equal(headSignedBy(NODE_X25519.generateKeyPair().publicKey, head1), false);
      assert.equal(headSignedBy(cloud.publicKey, { ...head1, size: head1.size + 1 }), false, 'the size is signed');

      // Ana's phone gets a new key: a publish leaf; an unchanged republish adds none.
      const newKey = b64(NODE_X25519.generateKeyPair().publicKey);
      const device = { device_id: ana.device.id, public_key: newKey, name: 'phone', kind: 'phone' };
      assert.equal((await call(cloud, 'PUT', '/api/keys', ana.token, { devices: [device] })).status, 200);
      assert.equal((await call(cloud, 'PUT', '/api/keys', ana.token, { devices: [device] })).status, 200);
      const proofs = await call(cloud, 'POST', '/api/keys/log/proofs', ana.token, { device_ids: [ana.device.id, bo.device.id] });
      assert.equal(proofs.status, 200, JSON.stringify(proofs.body));
      const head2 = proofs.body.head as KeyLogHead;
      assert.equal(head2.size, 3);
      assert.ok(headSignedBy(cloud.publicKey, head2));
      assert.deepEqual(
        proofs.body.entries.map((e: { device_id: string }) => e.device_id),
        [ana.device.id],
        "Bo's device is another household's: no proof, not even its index",
      );
      const mine = proofs.body.entries[0];
      assert.equal(mine.leaf.public_key, newKey);
      assert.equal(mine.leaf.op, 'publish');
      assert.ok(included(mine, head2), 'the latest leaf is in the head');
      assert.equal(included({ ...mine, leaf: { ...mine.leaf, public_key: b64(ana.device.keys.publicKey) } }, head2), false);

      const c12 = await call(cloud, 'GET', `/api/keys/log/consistency?from=${head1.size}&to=${head2.size}`, ana.token);
      assert.equal(c12.status, 200, JSON.stringify(c12.body));
      assert.ok(consistent(head1, head2, c12.body.proof), 'head 2 extends head 1');

      // Removal: a remove leaf, proven like any other.
      assert.equal((await call(cloud, 'PUT', '/api/keys', ana.token, { devices: [] })).status, 200);
      const after = await call(cloud, 'POST', '/api/keys/log/proofs', ana.token, { device_ids: [ana.device.id] });
      assert.equal(after.body.head.size, 4);
      assert.equal(after.body.entries[0].leaf.op, 'remove');
      assert.equal(after.body.entries[0].leaf.public_key, null);
      assert.ok(included(after.body.entries[0], after.body.head));

      for (const q of ['from=3&to=2', 'from=0&to=99', 'from=x&to=1', 'to=1']) {
        const bad = await call(cloud, 'GET', `/api/keys/log/consistency?${q}`, ana.token);
        assert.equal(bad.status, 400, q);
        assert.equal(bad.body.error, 'invalid_request');
      }
    }));

  it('a cloud that rewrote a leaf under a kept head cannot prove the new head consistent with it', { skip: sqliteOnly }, () =>
    withCloud({ otpSender: otp }, async (cloud, dataDir) => {
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      await joinAccount(cloud, 'ana@example.org', codeOf);
      const kept = (await call(cloud, 'GET', '/api/keys/log/head', ana.token)).body as KeyLogHead;
      // The operator (or an attacker with the database) swaps the first leaf's key for one of their own.
      rewriteFirstLeaf(dataDir, (leaf) => ({ ...leaf, public_key: b64(NODE_X25519.generateKeyPair().publicKey) }));
      await joinAccount(cloud, 'ana@example.org', codeOf);
      const now = (await call(cloud, 'GET', '/api/keys/log/head', ana.token)).body as KeyLogHead;
      assert.ok(headSignedBy(cloud.publicKey, now), 'the new head is signed all the same');
      const proof = await call(cloud, 'GET', `/api/keys/log/consistency?from=${kept.size}&to=${now.size}`, ana.token);
      assert.equal(proof.status, 200);
      assert.equal(consistent(kept, now, proof.body.proof), false, 'the rewrite shows: the heads do not extend each other');
    }),
  );

  it('hands every reader all entries as tags and content hashes: the root is recomputed from them, and only the owner finds its own', () =>
    withCloud({ otpSender: otp }, async (cloud) => {
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      const bo = await joinAccount(cloud, 'bo@example.org', codeOf);
      await joinAccount(cloud, 'ana@example.org', codeOf);
      const head = (await call(cloud, 'GET', '/api/keys/log/head', bo.token)).body as KeyLogHead;
      const got = await call(cloud, 'GET', `/api/keys/log/hashes?from=0&to=${head.size}`, bo.token);
      assert.equal(got.status, 200, JSON.stringify(got.body));
      const entries = got.body.entries as { tag: string; content: string }[];
      assert.equal(entries.length, 3);
      const range = appendLeaves(
        EMPTY_RANGE,
        entries.map((e) => logLeafHash(fromBase64Url(e.tag), fromBase64Url(e.content))),
      );
      assert.equal(b64(rangeRoot(range)), head.root, "Bo computes the signed root from everyone's entries");
      // Bo's tag at its own index matches; Ana's entries are unlinkable values to Bo (the index is in the tag).
      const mine = entries.map((e, i) => e.tag === b64(leafTag(bo.device.id, i)));
      assert.deepEqual(mine, [false, true, false]);
      assert.notEqual(entries[0]!.tag, b64(leafTag(ana.device.id, 2)), 'the same device has a different tag at each index');
      // The leaves themselves only for devices the caller may see.
      const leaves = await call(cloud, 'POST', '/api/keys/log/leaves', bo.token, { indices: [0, 1, 2, 99] });
      assert.equal(leaves.status, 200, JSON.stringify(leaves.body));
      assert.deepEqual(
        leaves.body.entries.map((e: { index: number }) => e.index),
        [1],
        "Ana's leaves are another household's; index 99 does not exist",
      );
      assert.equal(b64(leafContentHash(leaves.body.entries[0].leaf)), entries[1]!.content);
      for (const q of ['from=2&to=1', `from=0&to=${head.size + 1}`, 'from=a&to=1', 'from=0']) {
        const bad = await call(cloud, 'GET', `/api/keys/log/hashes?${q}`, bo.token);
        assert.equal(bad.status, 400, q);
        assert.equal(bad.body.error, 'invalid_request');
      }
      for (const body of [{ indices: [] }, { indices: [-1] }, { indices: 'x' }, { indices: [1], more: 1 }]) {
        const bad = await call(cloud, 'POST', '/api/keys/log/leaves', bo.token, body);
        assert.equal(bad.status, 400, JSON.stringify(body));
      }
    }));

  it('entries written before the tree committed to tags are rehashed at start, history kept', { skip: sqliteOnly }, () =>
    withCloud({ otpSender: otp }, async (cloud, dataDir) => {
      const ana = await joinAccount(cloud, 'ana@example.org', codeOf);
      await joinAccount(cloud, 'ana@example.org', codeOf);
      const before = (await call(cloud, 'GET', '/api/keys/log/head', ana.token)).body as KeyLogHead;
      const db = new Database(join(dataDir, 'cloud.db'));
      try {
        // As the previous version left them: no tag, no content hash, another leaf hash.
        db.prepare("UPDATE key_log SET tag = NULL, content_hash = NULL, leaf_hash = 'old'").run();
      } finally {
        db.close();
      }
      assert.equal(await cloud.keyLog.backfill(), 0, 'no new leaves: the same history');
      const after = await cloud.keyLog.head();
      assert.deepEqual([after.size, after.root], [before.size, before.root], 'the same leaves give the same root again');
    }),
  );
});
