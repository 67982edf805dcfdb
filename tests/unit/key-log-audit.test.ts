// The node's audit of its cloud's key log against an in-memory cloud that tells the truth, and then lies in
// each of the ways a cloud can: a directory key outside the log, a head its key did not sign, a shorter log, a
// rewritten entry, an entry that gives our device to someone else, a fork shown to another node.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import pino from 'pino';
import { CloudCallError } from '../../src/main/core/cloud/cloud-api.js';
import { type AuditContext, type KeyLogApi, KeyLogAuditor } from '../../src/main/core/cloud/key-log-audit.js';
import { KeyLogStateFile } from '../../src/main/core/cloud/key-log-state-file.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { hashOfLeaf, type KeyLogLeaf, leafContentHash, leafTag, signHead } from '../../src/shared/transparency/key-log.js';
import { consistencyProof, inclusionProof, rootOf } from '../../src/shared/transparency/merkle.js';
import type { DirectoryEntry, KeyLogAlarm } from '../../src/shared/wire/relay.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function key(): string {
  return toBase64Url(x25519.getPublicKey(x25519.utils.randomSecretKey()));
}

/** A cloud's key log in memory, with its signing key; `lie` changes what it answers. */
class FakeCloud {
  readonly privateKey = x25519.utils.randomSecretKey();
  readonly cloudKey = toBase64Url(x25519.getPublicKey(this.privateKey));
  leaves: KeyLogLeaf[] = [];
  /** Sign heads with another key. */
  signWith: Uint8Array | null = null;
  /** Answer hashes with this log instead (a history the heads do not commit to). */
  servedLeaves: KeyLogLeaf[] | null = null;
  /** Leave these indices out of leaves answers. */
  hideLeaves = new Set<number>();
  unsupported = false;

  publish(deviceId: string, node: string, publicKey: string): DirectoryEntry {
    this.leaves.push({ op: 'publish', device_id: deviceId, node, public_key: publicKey, at: new Date(0).toISOString() });
    return { device_id: deviceId, node, public_key: publicKey, name: deviceId, kind: 'phone', updated_at: new Date(0).toISOString() };
  }

  private hashes_(leaves = this.leaves): Uint8Array[] {
    return leaves.map((l, i) => hashOfLeaf(l, i));
  }

  head() {
    const h = this.hashes_();
    return signHead(this.signWith ?? this.privateKey, h.length, rootOf(h));
  }

  async proofs(deviceIds: string[]) {
    if (this.unsupported) throw new CloudCallError('rejected', 404, 'not_found', 'not found');
    const h = this.hashes_();
    const entries = deviceIds.flatMap((id) => {
      const index = this.leaves.findLastIndex((l) => l.device_id === id);
      if (index < 0) return [];
      return [{ device_id: id, index, leaf: this.leaves[index]!, proof: inclusionProof(h, index).map(toBase64Url) }];
    });
    return { head: this.head(), entries };
  }

  async hashes(from: number, to: number) {
    const leaves = this.servedLeaves ?? this.leaves;
    return leaves.slice(from, to).map((l, i) => ({
      tag: toBase64Url(leafTag(l.device_id, from + i)),
      content: toBase64Url(leafContentHash(l)),
    }));
  }

  async leavesAt(indices: number[]) {
    return indices.flatMap((i) => (this.leaves[i] && !this.hideLeaves.has(i) ? [{ index: i, leaf: this.leaves[i]! }] : []));
  }

  async consistency(from: number, to: number) {
    if (to > this.leaves.length) throw new CloudCallError('rejected', 400, 'invalid_request', 'too far');
    return consistencyProof(this.hashes_(), from, to).map(toBase64Url);
  }
}

function setup(dir = mkdtempSync(join(tmpdir(), 'salita-keylog-'))) {
  dirs.push(dir);
  const alarms: KeyLogAlarm[] = [];
  const auditor = new KeyLogAuditor({ state: new KeyLogStateFile(dir, log), log, alarmed: (a) => alarms.push(a) });
  return { dir, auditor, alarms };
}

function ctxOf(cloud: FakeCloud, self: string, own: AuditContext['own'] = []): AuditContext {
  const api: KeyLogApi = {
    proofs: (ids) => cloud.proofs(ids),
    hashes: (f, t) => cloud.hashes(f, t),
    leaves: (i) => cloud.leavesAt(i),
    consistency: (f, t) => cloud.consistency(f, t),
  };
  return { api, cloudKey: cloud.cloudKey, self, own };
}

describe('key log audit', () => {
  test('an honest cloud is verified read after read, and the kept head survives a restart', async () => {
    const cloud = new FakeCloud();
    const { dir, auditor, alarms } = setup();
    const a = cloud.publish('dev-a', 'node-a', key());
    const b = cloud.publish('dev-b', 'node-b', key());
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [a, b]), 'verified');
    assert.equal(auditor.view(cloud.cloudKey).size, 2);
    const c = cloud.publish('dev-c', 'node-c', key());
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [a, b, c]), 'verified');
    const again = setup(dir);
    assert.equal(again.auditor.view(cloud.cloudKey).size, 3, 'the kept head is read back from key-log.json');
    assert.equal(await again.auditor.audit(ctxOf(cloud, 'node-a'), [a, b, c]), 'verified');
    assert.deepEqual(alarms, []);
  });

  test('a directory key the log does not hold: key_log_not_included, and the read is refused from then on', async () => {
    const cloud = new FakeCloud();
    const { auditor, alarms } = setup();
    const b = cloud.publish('dev-b', 'node-b', key());
    const forged = { ...b, public_key: key() };
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [forged]), 'alarm');
    assert.equal(alarms[0]?.code, 'key_log_not_included');
    assert.equal(auditor.view(cloud.cloudKey).status, 'alarm');
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [b]), 'alarm', 'the alarm stays until reset');
    assert.equal(auditor.view(cloud.cloudKey).size, 1, 'the checks go on under the alarm: the honest head is kept');
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [forged]), 'alarm');
    assert.equal(alarms.length, 1, 'the first alarm stays; it is not raised again');
    auditor.reset(cloud.cloudKey);
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [b]), 'verified');
  });

  test('a missing proof on a first read asks for a fresh directory read first (the directory may have changed)', async () => {
    const cloud = new FakeCloud();
    const { auditor, alarms } = setup();
    const b = cloud.publish('dev-b', 'node-b', key());
    const gone: DirectoryEntry = { device_id: 'dev-left', node: 'node-x', public_key: key(), name: 'x', kind: 'phone', updated_at: '' };
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [b, gone], { final: false }), 'retry');
    assert.equal(alarms.length, 0, 'no alarm yet');
    assert.equal(auditor.view(cloud.cloudKey).size, null, 'nothing kept from that read');
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [b], { final: true }), 'verified', 'the fresh read passes');
  });

  test('a device listed with no log entry at all is not included', async () => {
    const cloud = new FakeCloud();
    const { auditor, alarms } = setup();
    cloud.publish('dev-b', 'node-b', key());
    const ghost: DirectoryEntry = { device_id: 'dev-ghost', node: 'node-x', public_key: key(), name: 'x', kind: 'phone', updated_at: '' };
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [ghost]), 'alarm');
    assert.equal(alarms[0]?.code, 'key_log_not_included');
  });

  test('a head not signed by the pinned cloud key: key_log_bad_signature', async () => {
    const cloud = new FakeCloud();
    const { auditor, alarms } = setup();
    const b = cloud.publish('dev-b', 'node-b', key());
    cloud.signWith = x25519.utils.randomSecretKey();
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [b]), 'alarm');
    assert.equal(alarms[0]?.code, 'key_log_bad_signature');
  });

  test('a log that shrank or rewrote an entry: key_log_inconsistent', async () => {
    const cloud = new FakeCloud();
    const { auditor, alarms } = setup();
    const a = cloud.publish('dev-a', 'node-a', key());
    const b = cloud.publish('dev-b', 'node-b', key());
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [a, b]), 'verified');
    // Rewritten: entry 1 now says another key, and the log grew on top of it; the heads are signed honestly.
    cloud.leaves[1] = { ...cloud.leaves[1]!, public_key: key() };
    const c = cloud.publish('dev-c', 'node-c', key());
    const b2 = { ...b, public_key: cloud.leaves[1]!.public_key! };
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [a, b2, c]), 'alarm');
    assert.equal(alarms[0]?.code, 'key_log_inconsistent');

    const shrunk = new FakeCloud();
    const s = setup();
    const x = shrunk.publish('dev-x', 'node-x', key());
    shrunk.publish('dev-y', 'node-y', key());
    assert.equal(await s.auditor.audit(ctxOf(shrunk, 'node-a'), [x]), 'verified');
    shrunk.leaves.pop();
    assert.equal(await s.auditor.audit(ctxOf(shrunk, 'node-a'), [x]), 'alarm');
    assert.equal(s.alarms[0]?.code, 'key_log_inconsistent');
    assert.match(s.alarms[0]!.message, /shrank from 2 entries/);
  });

  test('hashes that do not make the signed root, or too few of them: key_log_inconsistent', async () => {
    const cloud = new FakeCloud();
    const { auditor, alarms } = setup();
    const a = cloud.publish('dev-a', 'node-a', key());
    cloud.servedLeaves = [{ ...cloud.leaves[0]!, node: 'node-z' }];
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [a]), 'alarm');
    assert.equal(alarms[0]?.code, 'key_log_inconsistent');

    const short = new FakeCloud();
    const s = setup();
    const y = short.publish('dev-y', 'node-y', key());
    short.servedLeaves = [];
    assert.equal(await s.auditor.audit(ctxOf(short, 'node-a'), [y]), 'alarm');
    assert.match(s.alarms[0]!.message, /would not hand out/);
  });

  test("an entry that gives this node's device another key or node: key_log_foreign_key, seen by the owner alone", async () => {
    const cloud = new FakeCloud();
    const owner = setup();
    const other = setup();
    const mine = { device_id: 'dev-mine', public_key: key(), name: 'Phone', kind: 'phone' as const };
    const a = cloud.publish(mine.device_id, 'node-a', mine.public_key);
    const b = cloud.publish('dev-b', 'node-b', key());
    assert.equal(await owner.auditor.audit(ctxOf(cloud, 'node-a', [mine]), [a, b]), 'verified');
    assert.equal(await other.auditor.audit(ctxOf(cloud, 'node-b'), [a, b]), 'verified');
    // The cloud appends a key of its own for our phone, shown to node-b as the phone's current key.
    const fake = cloud.publish(mine.device_id, 'node-a', key());
    assert.equal(await other.auditor.audit(ctxOf(cloud, 'node-b'), [fake, b]), 'verified', 'node-b cannot tell');
    // The owner is shown its real key (the cloud hides the change from it) but reads its devices' entries.
    cloud.leaves.push({ ...cloud.leaves[0]!, at: new Date(1).toISOString() });
    const shown = { ...a };
    assert.equal(await owner.auditor.audit(ctxOf(cloud, 'node-a', [mine]), [shown, b]), 'alarm');
    assert.equal(owner.alarms[0]?.code, 'key_log_foreign_key');
    assert.match(owner.alarms[0]!.message, /Phone/);
  });

  test("an entry of this node's device the cloud will not show is foreign too", async () => {
    const cloud = new FakeCloud();
    const owner = setup();
    const mine = { device_id: 'dev-mine', public_key: key(), name: 'Phone', kind: 'phone' as const };
    const a = cloud.publish(mine.device_id, 'node-a', mine.public_key);
    assert.equal(await owner.auditor.audit(ctxOf(cloud, 'node-a', [mine]), [a]), 'verified');
    cloud.publish(mine.device_id, 'node-evil', key());
    cloud.hideLeaves.add(1);
    cloud.leaves.push({ ...cloud.leaves[0]!, at: new Date(2).toISOString() });
    assert.equal(await owner.auditor.audit(ctxOf(cloud, 'node-a', [mine]), [a]), 'alarm');
    assert.equal(owner.alarms[0]?.code, 'key_log_foreign_key');
  });

  test('a cloud without the log is unsupported, and its directory is used', async () => {
    const cloud = new FakeCloud();
    cloud.unsupported = true;
    const { auditor, alarms } = setup();
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), []), 'unsupported');
    assert.equal(auditor.view(cloud.cloudKey).status, 'unsupported');
    assert.deepEqual(alarms, []);
  });

  test('gossip: a consistent head passes; a fork, a head the cloud cannot prove, are key_log_forked; an unsigned one is ignored', async () => {
    const cloud = new FakeCloud();
    const { auditor, alarms } = setup();
    const a = cloud.publish('dev-a', 'node-a', key());
    assert.equal(await auditor.audit(ctxOf(cloud, 'node-a'), [a]), 'verified');
    const older = cloud.head();
    cloud.publish('dev-b', 'node-b', key());
    await auditor.checkGossip(ctxOf(cloud, 'node-a'), cloud.head(), 'peer-1');
    await auditor.checkGossip(ctxOf(cloud, 'node-a'), older, 'peer-1');
    assert.equal(alarms.length, 0);
    // Another view of the same cloud, signed by it: same size, another root.
    const fork = new FakeCloud();
    Object.assign(fork, { privateKey: cloud.privateKey, cloudKey: cloud.cloudKey });
    fork.publish('dev-a', 'node-a', key());
    const unsigned = { ...fork.head(), signature: toBase64Url(new Uint8Array(64)) };
    await auditor.checkGossip(ctxOf(cloud, 'node-a'), unsigned, 'peer-1');
    assert.equal(alarms.length, 0, 'a head the cloud did not sign says nothing');
    await auditor.checkGossip(ctxOf(cloud, 'node-a'), fork.head(), 'peer-1');
    assert.equal(alarms[0]?.code, 'key_log_forked');

    const c2 = new FakeCloud();
    const s = setup();
    const x = c2.publish('dev-x', 'node-x', key());
    assert.equal(await s.auditor.audit(ctxOf(c2, 'node-a'), [x]), 'verified');
    const longer = new FakeCloud();
    Object.assign(longer, { privateKey: c2.privateKey, cloudKey: c2.cloudKey });
    longer.leaves = [...c2.leaves];
    longer.publish('dev-y', 'node-y', key());
    longer.publish('dev-z', 'node-z', key());
    await s.auditor.checkGossip(ctxOf(c2, 'node-a'), longer.head(), 'peer-2');
    assert.equal(s.alarms[0]?.code, 'key_log_forked', 'our cloud cannot prove a head longer than its log');
  });

  test('a damaged key-log.json is kept aside and the node starts over', () => {
    const { dir } = setup();
    writeFileSync(join(dir, 'key-log.json'), '{"version":1,"clouds":{"x":{"kept":{"head":{"size":3}}}}}');
    const again = setup(dir);
    assert.equal(again.auditor.view('x').status, 'unchecked');
    assert.match(readFileSync(join(dir, 'key-log.json.corrupt'), 'utf8'), /clouds/);
  });
});
