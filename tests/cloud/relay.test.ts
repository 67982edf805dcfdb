// The reference cloud's key directory and relay (docs/cloud.md "Key directory", "Relay"), as is: startCloud on
// loopback port 0, nodes logged in with the plain OTP flow, real sealed envelopes, raw WebSocket frames.
// No timing assertions: every wait is for a frame, a close, or an answer that is ordered after a commit.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { RELAY_CLOSE } from '../../src/cloud/relay-hub.js';
import { MAX_RELAY_FRAME_BYTES } from '../../src/cloud/relay-socket.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import { open } from '../../src/shared/e2ee/index.js';
import { RELAY_WINDOW } from '../../src/shared/wire/relay.js';
import { startTestCloud, storedCount } from '../helpers/test-cloud.js';
import {
  b64,
  call,
  type Device,
  device,
  envelope,
  type Frame,
  loginNode,
  publish,
  published,
  Relay,
  type TestNode,
} from './relay-client.js';

const delivers = (f: Frame): f is Extract<Frame, { type: 'deliver' }> => f.type === 'deliver';
const receipts = (f: Frame): f is Extract<Frame, { type: 'receipt' }> => f.type === 'receipt';

/** A look into the cloud's store beside the running cloud (tests/helpers/test-cloud.ts). */
function rows(dir: string) {
  const n = (sql: string, ...args: string[]) => storedCount(dir, sql, args);
  return {
    envelopes: () => n('select count(*) as n from relay_envelopes'),
    queue: () => n('select count(*) as n from relay_queue'),
    envelope: (id: string) => n('select count(*) as n from relay_envelopes where id = ?', id),
    queueFor: (id: string) => n('select count(*) as n from relay_queue where envelope_id = ?', id),
    /** Rows (envelopes + queue) left for these envelope ids. */
    leftFor: async (ids: string[]) => {
      let sum = 0;
      for (const id of ids)
        sum +=
          (await n('select count(*) as n from relay_queue where envelope_id = ?', id)) +
          (await n('select count(*) as n from relay_envelopes where id = ?', id));
      return sum;
    },
  };
}

/** Refused upgrade: the HTTP status and the x-cloud-error code. */
function wsRefusal(url: string, headers: Record<string, string>): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode, error: res.headers['x-cloud-error'] as string });
      res.resume();
    });
    ws.on('error', (e) => {
      if (!e.message.includes('Unexpected server response')) reject(e);
    });
  });
}

// ---- tests --------------------------------------------------------------------------------------------------

describe('cloud key directory', () => {
  let dir: string;
  let cloud: RunningCloud;
  const otp = new MemoryOtpSender();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'salita-relay-'));
    cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
  });
  after(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("publishes, lists with the serving node, replaces a node's set, refuses a taken id", async () => {
    const a = await loginNode(cloud, otp);
    const b = await loginNode(cloud, otp);
    const [a1, a2, b1] = [device('a1'), device('a2', 'desktop'), device('b1')];
    const put = await call(cloud, 'PUT', '/api/keys', a.token, { devices: [published(a1), published(a2)] });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.devices.map((d: any) => d.device_id).sort(), [a1.id, a2.id].sort());
    await publish(cloud, b, [b1]);

    const list = await call(cloud, 'GET', '/api/keys', b.token);
    assert.equal(list.status, 200);
    const byId = new Map<string, any>(list.body.devices.map((d: any) => [d.device_id, d]));
    assert.equal(byId.size, 3);
    assert.deepEqual({ ...byId.get(a2.id), updated_at: 'x' }, { ...published(a2), node: a.id, updated_at: 'x' });
    assert.equal(byId.get(b1.id).node, b.id);
    assert.ok(!Number.isNaN(Date.parse(byId.get(b1.id).updated_at)));

    // b may not take a's device: that one device is refused, b's others are published.
    const b2 = device('b2');
    const taken = await call(cloud, 'PUT', '/api/keys', b.token, { devices: [published(b1), published(a1), published(b2)] });
    assert.equal(taken.status, 200, JSON.stringify(taken.body));
    assert.deepEqual(
      taken.body.refused.map((r: any) => [r.device_id, r.error]),
      [[a1.id, 'device_id_taken']],
    );
    assert.deepEqual(taken.body.devices.map((d: any) => d.device_id).sort(), [b1.id, b2.id].sort());
    const after1 = (await call(cloud, 'GET', '/api/keys', a.token)).body.devices as any[];
    assert.deepEqual(
      after1
        .filter((d) => d.node === b.id)
        .map((d) => d.device_id)
        .sort(),
      [b1.id, b2.id].sort(),
    );
    assert.equal(after1.find((d) => d.device_id === a1.id).node, a.id);

    // A new set replaces the old one: a2 is gone; an unchanged a1 keeps its updated_at.
    const a1Before = after1.find((d) => d.device_id === a1.id).updated_at;
    await publish(cloud, a, [a1]);
    const after2 = (await call(cloud, 'GET', '/api/keys', a.token)).body.devices as any[];
    assert.deepEqual(
      after2.filter((d) => d.node === a.id).map((d) => d.device_id),
      [a1.id],
    );
    assert.equal(after2.find((d) => d.device_id === a1.id).updated_at, a1Before);

    // Once a drops a2, b may publish that id.
    await publish(cloud, b, [b1, a2]);
  });

  it('needs a token and a valid body', async () => {
    assert.equal((await call(cloud, 'GET', '/api/keys')).body.error, 'token_missing');
    assert.equal((await call(cloud, 'PUT', '/api/keys', undefined, { devices: [] })).status, 401);
    const a = await loginNode(cloud, otp);
    const bad = await call(cloud, 'PUT', '/api/keys', a.token, { devices: [{ ...published(device('x')), public_key: 'short' }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_request');
    const twice = device('twice');
    const dup = await call(cloud, 'PUT', '/api/keys', a.token, { devices: [published(twice), published(twice)] });
    assert.equal(dup.status, 400);
    const priv = await call(cloud, 'PUT', '/api/keys', a.token, {
      devices: [{ ...published(twice), private_key: b64(twice.keys.privateKey) }],
    });
    assert.equal(priv.status, 400, 'no other fields, so no private key can be published by mistake');
    // 256 devices with long ids fit the body limit.
    const many = Array.from({ length: 256 }, (_, i) => ({ ...published(device(`many-${i}-${'x'.repeat(90)}`)) }));
    assert.equal((await call(cloud, 'PUT', '/api/keys', a.token, { devices: many })).status, 200);
    const badRange = await call(cloud, 'PUT', '/api/keys', a.token, {
      devices: [published(twice)],
      range: { after: 'zzz', through: null },
    });
    assert.equal(badRange.status, 400, 'a device outside its range');
  });

  it('a set larger than a page goes up in device-id ranges: all 600 published; a later smaller set replaces it', async () => {
    const a = await loginNode(cloud, otp);
    const all = Array.from({ length: 600 }, (_, i) => published(device(`paged-${String(i).padStart(3, '0')}`))).sort((x, y) =>
      x.device_id < y.device_id ? -1 : 1,
    );
    assert.equal((await call(cloud, 'PUT', '/api/keys', a.token, { devices: all })).status, 400, 'more than a page in one request');
    for (let i = 0; i < all.length; i += 256) {
      const page = all.slice(i, i + 256);
      const range = { after: i === 0 ? null : all[i - 1]!.device_id, through: i + 256 >= all.length ? null : page.at(-1)!.device_id };
      const r = await call(cloud, 'PUT', '/api/keys', a.token, { devices: page, range });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.refused, []);
    }
    const mine = async () =>
      ((await call(cloud, 'GET', '/api/keys', a.token)).body.devices as any[]).filter((d) => d.node === a.id).map((d) => d.device_id);
    assert.deepEqual(
      await mine(),
      all.map((d) => d.device_id),
    );
    await publish(cloud, a, []);
    assert.deepEqual(await mine(), []);
  });
});

describe('cloud key directory: the per-node cap', () => {
  it('devices past the cap are refused one by one (device_limit_reached); the others are published', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-relay-'));
    const otp = new MemoryOtpSender();
    const cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, maxPublishedPerNode: 5 });
    try {
      const a = await loginNode(cloud, otp);
      const devs = Array.from({ length: 7 }, (_, i) => published(device(`capped-${i}`)));
      const r = await call(cloud, 'PUT', '/api/keys', a.token, { devices: devs });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.devices.length, 5);
      assert.equal(r.body.refused.length, 2);
      assert.ok(r.body.refused.every((x: any) => x.error === 'device_limit_reached' && /at most 5/.test(x.message)));
    } finally {
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cloud relay', () => {
  let dir: string;
  let cloud: RunningCloud;
  const otp = new MemoryOtpSender();
  let alice: TestNode;
  let bob: TestNode;
  let carol: TestNode;
  let aPhone: Device, aDesk: Device, bPhone: Device, bDesk: Device, cPhone: Device;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'salita-relay-'));
    cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
    [alice, bob, carol] = [await loginNode(cloud, otp), await loginNode(cloud, otp), await loginNode(cloud, otp)];
    [aPhone, aDesk, bPhone, bDesk, cPhone] = [
      device('a-phone'),
      device('a-desk', 'desktop'),
      device('b-phone'),
      device('b-desk', 'desktop'),
      device('c-phone'),
    ];
    await publish(cloud, alice, [aPhone, aDesk]);
    await publish(cloud, bob, [bPhone, bDesk]);
    await publish(cloud, carol, [cPhone]);
  });
  after(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hello, send, deliver to the right node, ack, receipt to the sender, then nothing is left', async () => {
    const a = await Relay.connect(cloud, alice);
    const b = await Relay.connect(cloud, bob);
    const c = await Relay.connect(cloud, carol);
    assert.deepEqual(a.hello, { type: 'hello', device_id: alice.id, pending: 0 });

    const env = envelope(aPhone, [bPhone, bDesk], 'hi bob');
    a.send(env);
    assert.deepEqual(await a.answer(env.id), { type: 'accepted', id: env.id });

    const d = await b.waitFor<Extract<Frame, { type: 'deliver' }>>(delivers, 'deliver');
    assert.deepEqual(d.envelope, env);
    // Bob's phone can open it with the directory's key for the sender.
    const dirKeys = (await call(cloud, 'GET', '/api/keys', bob.token)).body.devices as any[];
    const senderKey = Buffer.from(dirKeys.find((x) => x.device_id === env.from_device).public_key, 'base64url');
    const plain = open(d.envelope, { me: { device_id: bPhone.id, ...bPhone.keys }, senderPublicKey: new Uint8Array(senderKey) });
    assert.equal(new TextDecoder().decode(plain), 'hi bob');
    assert.equal(await rows(dir).envelope(env.id), 1);

    // Carol cannot ack bob's delivery.
    c.ack(d.seq);
    await c.barrier();
    assert.equal(await rows(dir).queueFor(env.id), 1, "another node's ack changes nothing");

    b.ack(d.seq);
    const r = await a.waitFor<Extract<Frame, { type: 'receipt' }>>((f) => receipts(f) && f.id === env.id, 'receipt');
    assert.deepEqual(r.device_ids, [bPhone.id, bDesk.id].sort());
    assert.ok(r.seq > 0);
    a.ack(r.seq);
    await a.barrier();
    assert.equal(await rows(dir).envelope(env.id), 0, 'envelope gone once every recipient node has it');
    assert.equal(await rows(dir).queueFor(env.id), 0, 'delivery and receipt rows gone');
    assert.equal(c.frames.filter(delivers).length, 0, 'carol got nothing');
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('one delivery per recipient node; a node may send to its own devices; receipts add up', async () => {
    const a = await Relay.connect(cloud, alice);
    const b = await Relay.connect(cloud, bob);
    const env = envelope(aPhone, [aDesk, bPhone, cPhone]);
    a.send(env);
    await a.answer(env.id);
    const toA = await a.waitFor<Extract<Frame, { type: 'deliver' }>>((f) => delivers(f) && f.envelope.id === env.id, 'deliver to self');
    const toB = await b.waitFor<Extract<Frame, { type: 'deliver' }>>((f) => delivers(f) && f.envelope.id === env.id, 'deliver to bob');
    assert.equal(await rows(dir).queueFor(env.id), 3, 'alice, bob, carol: one row each');
    a.ack(toA.seq);
    b.ack(toB.seq);
    // Receipts for alice's own delivery and bob's, possibly merged into one row; the last one has both.
    const last = await a.waitFor<Extract<Frame, { type: 'receipt' }>>(
      (f) => receipts(f) && f.id === env.id && f.device_ids.length === 2,
      'merged receipt',
    );
    assert.deepEqual(last.device_ids, [aDesk.id, bPhone.id].sort());
    for (const f of a.frames.filter(receipts)) a.ack(f.seq);
    await a.barrier();
    assert.equal(await rows(dir).envelope(env.id), 1, 'carol has not stored it yet');

    // Carol comes online later: her hello counts it, and she gets it.
    const c = await Relay.connect(cloud, carol);
    assert.equal(c.hello.pending, 1);
    const toC = await c.waitFor<Extract<Frame, { type: 'deliver' }>>(delivers, 'deliver to carol');
    assert.equal(toC.envelope.id, env.id);
    c.ack(toC.seq);
    const third = await a.waitFor<Extract<Frame, { type: 'receipt' }>>(
      (f) => receipts(f) && f.id === env.id && f.device_ids.includes(cPhone.id),
      'receipt for carol',
    );
    a.ack(third.seq);
    await a.barrier();
    assert.equal(await rows(dir).envelope(env.id), 0);
    assert.equal(await rows(dir).queueFor(env.id), 0);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('is idempotent by id: the same envelope twice is accepted twice and delivered once; other content conflicts', async () => {
    const a = await Relay.connect(cloud, alice);
    const env = envelope(aPhone, [bPhone]);
    a.send(env);
    a.send(env); // same batch
    await a.waitCount((f) => f.type === 'accepted' && f.id === env.id, 2, 'two accepted');
    a.send({ ...env }); // a later batch, and keys in another order
    a.send(Object.fromEntries(Object.entries(env).reverse()));
    await a.waitCount((f) => f.type === 'accepted' && f.id === env.id, 4, 'four accepted');
    assert.equal(await rows(dir).queueFor(env.id), 1, 'one delivery row');

    const changed = { ...env, ciphertext: (env.ciphertext[0] === 'A' ? 'B' : 'A') + env.ciphertext.slice(1) };
    a.send(changed);
    const r = await a.waitFor((f) => f.type === 'rejected' && f.id === env.id, 'conflict');
    assert.equal(r.type === 'rejected' && r.error, 'envelope_id_conflict');

    // After full delivery the body is gone, but the id is remembered: a resend is still accepted and not
    // delivered again, and other content still conflicts.
    const b = await Relay.connect(cloud, bob);
    const d = await b.waitFor<Extract<Frame, { type: 'deliver' }>>((f) => delivers(f) && f.envelope.id === env.id, 'deliver');
    b.ack(d.seq);
    const receipt = await a.waitFor<Extract<Frame, { type: 'receipt' }>>((f) => receipts(f) && f.id === env.id, 'receipt');
    a.ack(receipt.seq);
    await a.barrier();
    assert.equal(await rows(dir).leftFor([env.id]), 0);
    const mark = a.frames.length;
    a.send(env);
    assert.equal((await a.answer(env.id, mark)).type, 'accepted');
    a.send(changed);
    const again = await a.waitFor((f) => f.type === 'rejected' && f.id === env.id, 'conflict after delivery', mark);
    assert.equal(again.type === 'rejected' && again.error, 'envelope_id_conflict');
    await a.barrier();
    assert.equal(await rows(dir).envelope(env.id), 0);
    assert.equal(b.frames.filter((f) => delivers(f) && f.envelope.id === env.id).length, 1, 'bob got it once');
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses unknown recipients, unpublished senders and invalid envelopes, storing nothing', async () => {
    const a = await Relay.connect(cloud, alice);
    const before = [await rows(dir).envelopes(), await rows(dir).queue()];
    const stranger = device('stranger');
    const unknown = envelope(aPhone, [bPhone, stranger]);
    a.send(unknown);
    const r1 = await a.answer(unknown.id);
    assert.equal(r1.type === 'rejected' && r1.error, 'unknown_recipient');
    assert.match(r1.type === 'rejected' ? r1.message : '', new RegExp(stranger.id));

    const notMine = envelope(bPhone, [aPhone]); // bob's device, sent through alice's node
    a.send(notMine);
    const r2 = await a.answer(notMine.id);
    assert.equal(r2.type === 'rejected' && r2.error, 'sender_not_published');

    const bad = { ...envelope(aPhone, [bPhone]), to: [bPhone.id, aPhone.id].sort().reverse() };
    a.send(bad);
    const r3 = await a.answer(bad.id);
    assert.equal(r3.type === 'rejected' && r3.error, 'invalid_envelope');
    a.send({ v: 2, id: 'whatever' });
    const r4 = await a.waitFor((f) => f.type === 'rejected' && f.id === 'whatever', 'v2');
    assert.equal(r4.type === 'rejected' && r4.error, 'invalid_envelope');
    a.send('not even an object');
    const r5 = await a.waitFor((f) => f.type === 'rejected' && f.id === '', 'no id');
    assert.equal(r5.type === 'rejected' && r5.error, 'invalid_envelope');

    assert.deepEqual([await rows(dir).envelopes(), await rows(dir).queue()], before);
    await a.close();
  });

  it('bad frames get an error frame with a stable code, in order, and the socket stays up', async () => {
    const a = await Relay.connect(cloud, alice);
    const first = envelope(aPhone, [aDesk]);
    const last = envelope(aPhone, [aDesk]);
    a.send(first);
    a.sendRaw('{not json');
    a.sendRaw(JSON.stringify({ type: 'hello' }));
    a.sendRaw(JSON.stringify([1, 2]));
    a.sendRaw(JSON.stringify({ type: 'ack', seq: -1 }));
    a.sendRaw(JSON.stringify({ type: 'send', envelope: first, extra: 1 }));
    a.sendRaw(Buffer.from([1, 2, 3]));
    a.sendRaw(JSON.stringify({ type: 'send', envelope: { pad: 'x'.repeat(MAX_RELAY_FRAME_BYTES) } }));
    a.ack(999_999_999); // unknown seq: ignored, no answer
    a.send(last);
    await a.answer(last.id);
    const answers = a.frames
      .filter((f) => f.type !== 'hello' && f.type !== 'deliver' && f.type !== 'receipt')
      .map((f) => (f.type === 'error' ? f.error : f.type));
    assert.deepEqual(answers, [
      'accepted',
      'invalid_json',
      'unknown_type',
      'unknown_type',
      'invalid_frame',
      'invalid_frame',
      'binary_frame',
      'frame_too_large',
      'accepted',
    ]);
    for (const f of a.frames) if (f.type === 'error') assert.ok(f.message.length > 0);
    // Clean up: alice stores her own two deliveries.
    const ds = await a.waitCount((f) => delivers(f) && [first.id, last.id].includes(f.envelope.id), 2, 'self deliveries');
    for (const d of ds) if (delivers(d)) a.ack(d.seq);
    const rs = await a.waitCount((f) => receipts(f) && [first.id, last.id].includes(f.id), 2, 'receipts');
    for (const r of rs) if (receipts(r)) a.ack(r.seq);
    await a.barrier();
    await a.close();
  });

  it('keeps per-node order for 300 envelopes, past the window, with receipts back in the same order', async () => {
    const a = await Relay.connect(cloud, alice);
    const b = await Relay.connect(cloud, bob);
    const sent = Array.from({ length: 300 }, (_, i) => envelope(i % 2 ? aPhone : aDesk, i % 3 ? [bPhone] : [bPhone, bDesk], `n${i}`));
    assert.ok(sent.length > RELAY_WINDOW);
    // Both ack as frames arrive, so the windows keep moving.
    b.autoAck('deliver');
    a.autoAck('receipt');
    for (const env of sent) a.send(env);
    const got = await b.waitCount(delivers, 300, 'deliveries');
    assert.deepEqual(
      got.map((f) => (f as Extract<Frame, { type: 'deliver' }>).envelope.id),
      sent.map((e) => e.id),
      'delivered in the order sent',
    );
    const seqs = got.map((f) => (f as Extract<Frame, { type: 'deliver' }>).seq);
    assert.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
      'seq grows',
    );
    const answers = a.frames.filter((f) => f.type === 'accepted' || f.type === 'rejected');
    assert.deepEqual(
      answers.map((f) => (f.type === 'accepted' ? f.id : `rejected ${f.id}`)),
      sent.map((e) => e.id),
      'answered in order',
    );
    const rs = await a.waitCount((f) => receipts(f) && sent.some((e) => e.id === f.id), 300, 'receipts');
    assert.deepEqual(
      rs.map((f) => (f as Extract<Frame, { type: 'receipt' }>).id),
      sent.map((e) => e.id),
    );
    await a.barrier();
    assert.equal(await rows(dir).leftFor(sent.map((e) => e.id)), 0);
    await Promise.all([a.close(), b.close()]);
  });

  it('holds back past the window until acks come', async () => {
    const a = await Relay.connect(cloud, alice);
    a.autoAck('receipt');
    const sent = Array.from({ length: RELAY_WINDOW + 10 }, () => envelope(aPhone, [cPhone]));
    for (const env of sent) a.send(env);
    await a.answer(sent.at(-1)!.id);
    const c = await Relay.connect(cloud, carol);
    assert.equal(c.hello.pending, sent.length);
    const first = await c.waitCount(delivers, RELAY_WINDOW, 'a full window');
    // The rest is held back: a barrier on carol's socket is answered after the window was sent.
    await c.barrier();
    assert.equal(c.frames.filter(delivers).length, RELAY_WINDOW);
    for (const d of first.slice(0, 10)) if (delivers(d)) c.ack(d.seq);
    const all = await c.waitCount(delivers, sent.length, 'the rest');
    assert.deepEqual(
      all.map((f) => (f as Extract<Frame, { type: 'deliver' }>).envelope.id),
      sent.map((e) => e.id),
    );
    for (const d of all.slice(10)) if (delivers(d)) c.ack(d.seq);
    await a.waitCount((f) => receipts(f) && sent.some((e) => e.id === f.id), sent.length, 'receipts');
    await a.barrier();
    await c.barrier();
    assert.equal(await rows(dir).leftFor(sent.map((e) => e.id)), 0);
    await Promise.all([a.close(), c.close()]);
  });

  it('after a reconnect resends what was not acked, with the same seq, and not what was', async () => {
    const a = await Relay.connect(cloud, alice);
    const sent = [envelope(aPhone, [bPhone]), envelope(aPhone, [bPhone]), envelope(aPhone, [bPhone])];
    for (const env of sent) a.send(env);
    await a.answer(sent[2]!.id);
    let b = await Relay.connect(cloud, bob);
    assert.equal(b.hello.pending, 3);
    const first = (await b.waitCount(delivers, 3, 'three deliveries')) as Extract<Frame, { type: 'deliver' }>[];
    b.ack(first[1]!.seq);
    await b.barrier();
    await b.close();

    b = await Relay.connect(cloud, bob);
    assert.equal(b.hello.pending, 2);
    const again = (await b.waitCount(delivers, 2, 'two resent')) as Extract<Frame, { type: 'deliver' }>[];
    assert.deepEqual(
      again.map((d) => [d.seq, d.envelope.id]),
      [first[0]!, first[2]!].map((d) => [d.seq, d.envelope.id]),
    );
    for (const d of again) b.ack(d.seq);
    b.ack(first[1]!.seq); // a repeated ack: ignored
    await b.barrier();
    await b.close();
    const rs = await a.waitCount((f) => receipts(f) && sent.some((e) => e.id === f.id), 3, 'receipts');
    for (const r of rs) if (receipts(r)) a.ack(r.seq);
    await a.barrier();
    await a.close();
  });

  it('one socket per node: a newer one replaces the older (close 4409)', async () => {
    const first = await Relay.connect(cloud, bob);
    const second = await Relay.connect(cloud, bob);
    assert.deepEqual(await first.closed, { code: RELAY_CLOSE.replaced, reason: 'replaced' });
    const env = envelope(aPhone, [bDesk]);
    const a = await Relay.connect(cloud, alice);
    a.send(env);
    const d = await second.waitFor<Extract<Frame, { type: 'deliver' }>>(delivers, 'deliver on the new socket');
    assert.equal(d.envelope.id, env.id);
    second.ack(d.seq);
    const r = await a.waitFor<Extract<Frame, { type: 'receipt' }>>((f) => receipts(f) && f.id === env.id, 'receipt');
    a.ack(r.seq);
    await a.barrier();
    await Promise.all([a.close(), second.close()]);
  });

  it('refuses an unauthenticated upgrade with 401', async () => {
    const url = `${cloud.url.replace('http', 'ws')}/v1/relay`;
    assert.deepEqual(await wsRefusal(url, {}), { status: 401, error: 'token_missing' });
    assert.deepEqual(await wsRefusal(url, { authorization: `Noise ${'A'.repeat(43)}` }), { status: 401, error: 'token_invalid' });
  });

  it("logout closes the node's relay socket (4401); so does a revoke noticed by the token re-check", async () => {
    const dave = await loginNode(cloud, otp);
    let r = await Relay.connect(cloud, dave);
    assert.equal((await call(cloud, 'POST', '/api/auth/logout', dave.token, {})).status, 200);
    assert.deepEqual(await r.closed, { code: RELAY_CLOSE.unauthorized, reason: 'token_revoked' });

    const again = await loginNode(cloud, otp, dave.key);
    r = await Relay.connect(cloud, again);
    assert.equal(await cloud.relay.recheckTokens(), 0);
    // The CLI revokes from another process, straight in the database; the running cloud notices on its re-check.
    assert.equal(await cloud.auth.revokeDevice(again.id), 1);
    assert.equal(await cloud.relay.recheckTokens(), 1);
    assert.deepEqual(await r.closed, { code: RELAY_CLOSE.unauthorized, reason: 'token_revoked' });
  });

  it('routes by the directory at send time: a republished device moves, a dropped sender is refused', async () => {
    // The cloud keeps device -> node lookups in memory; every PUT /api/keys must be seen by the next send.
    const [dave, erin] = [await loginNode(cloud, otp), await loginNode(cloud, otp)];
    const [dPhone, moving] = [device('d-phone'), device('moving')];
    await publish(cloud, dave, [dPhone, moving]);
    await publish(cloud, erin, []);
    const d = await Relay.connect(cloud, dave);
    const e = await Relay.connect(cloud, erin);
    d.autoAck('deliver');
    e.autoAck('deliver');

    const first = envelope(dPhone, [moving]);
    d.send(first);
    assert.equal((await d.answer(first.id)).type, 'accepted');
    await d.waitFor((f) => delivers(f) && f.envelope.id === first.id, 'first, to dave itself');

    await publish(cloud, dave, [dPhone]);
    await publish(cloud, erin, [moving]);
    const second = envelope(dPhone, [moving]);
    d.send(second);
    assert.equal((await d.answer(second.id)).type, 'accepted');
    const to = await Promise.race([
      e.waitFor((f) => delivers(f) && f.envelope.id === second.id, 'second, to erin').then(() => 'erin'),
      d.waitFor((f) => delivers(f) && f.envelope.id === second.id, 'second, to dave').then(() => 'dave'),
    ]);
    assert.equal(to, 'erin', 'delivered where the device is published now');

    await publish(cloud, dave, []);
    const third = envelope(dPhone, [moving]);
    d.send(third);
    const refused = await d.answer(third.id);
    assert.equal(refused.type === 'rejected' && refused.error, 'sender_not_published');
    await publish(cloud, dave, [dPhone]);
    await publish(cloud, erin, []);
    const fourth = envelope(dPhone, [moving]);
    d.send(fourth);
    const unknown = await d.answer(fourth.id);
    assert.equal(unknown.type === 'rejected' && unknown.error, 'unknown_recipient');

    await d.barrier();
    assert.ok(!d.frames.some((f) => delivers(f) && f.envelope.id !== first.id), 'dave got only the first');
    assert.ok(!e.frames.some((f) => delivers(f) && f.envelope.id !== second.id), 'erin got only the second');
    await Promise.all([d.close(), e.close()]);
  });
});

describe('cloud relay across a restart', () => {
  it('keeps undelivered envelopes and their seq', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salita-relay-'));
    const otp = new MemoryOtpSender();
    try {
      let cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
      const alice = await loginNode(cloud, otp);
      const bob = await loginNode(cloud, otp);
      const [aPhone, bPhone] = [device('a-phone'), device('b-phone')];
      await publish(cloud, alice, [aPhone]);
      await publish(cloud, bob, [bPhone]);
      const a = await Relay.connect(cloud, alice);
      const sent = [envelope(aPhone, [bPhone], 'one'), envelope(aPhone, [bPhone], 'two')];
      for (const env of sent) a.send(env);
      await a.answer(sent[1]!.id);
      let b = await Relay.connect(cloud, bob);
      const before = (await b.waitCount(delivers, 2, 'deliveries')) as Extract<Frame, { type: 'deliver' }>[];
      await cloud.stop();
      await Promise.all([a.closed, b.closed]);

      cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {} });
      try {
        b = await Relay.connect(cloud, bob); // the token survived too
        assert.equal(b.hello.pending, 2);
        const after = (await b.waitCount(delivers, 2, 'deliveries after restart')) as Extract<Frame, { type: 'deliver' }>[];
        assert.deepEqual(
          after.map((d) => [d.seq, d.envelope]),
          before.map((d) => [d.seq, d.envelope]),
        );
        for (const d of after) b.ack(d.seq);
        const a2 = await Relay.connect(cloud, alice);
        const rs = (await a2.waitCount(receipts, 2, 'receipts')) as Extract<Frame, { type: 'receipt' }>[];
        assert.deepEqual(
          rs.map((r) => r.id),
          sent.map((e) => e.id),
        );
        await Promise.all([a2.close(), b.close()]);
      } finally {
        await cloud.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('relay backlog caps (a node that never acks)', () => {
  let dir: string;
  let cloud: RunningCloud;
  const otp = new MemoryOtpSender();
  const CAP = 5;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'salita-relay-cap-'));
    cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, relayQueueCap: CAP });
  });
  after(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops the queue of a node that reads but never acks at its cap, refuses with recipient_backlog_full, loses nothing accepted', async () => {
    const a = await loginNode(cloud, otp);
    const b = await loginNode(cloud, otp);
    const [a1, b1] = [device('cap-a1'), device('cap-b1')];
    await publish(cloud, a, [a1]);
    await publish(cloud, b, [b1]);
    const ra = await Relay.connect(cloud, a);
    const rb = await Relay.connect(cloud, b); // reads every delivery, acks none
    const accepted: string[] = [];
    const refused: string[] = [];
    for (let i = 0; i < CAP * 4; i++) {
      const env = envelope(a1, [b1]);
      ra.send(env);
      const ans = await ra.answer(env.id);
      if (ans.type === 'accepted') accepted.push(env.id);
      else {
        assert.equal(ans.error, 'recipient_backlog_full');
        refused.push(env.id);
      }
    }
    assert.equal(accepted.length, CAP);
    assert.equal(refused.length, CAP * 3);
    assert.equal(await storedCount(dir, 'SELECT count(*) AS n FROM relay_queue WHERE to_node = ?', [b.id]), CAP);
    // Every accepted envelope reaches b; once b acks them, a gets its receipts and b's queue takes more again.
    const got = await rb.waitCount(delivers, CAP, 'deliveries');
    assert.deepEqual(got.map((f) => (f as Extract<Frame, { type: 'deliver' }>).envelope.id).sort(), [...accepted].sort());
    for (const f of got) rb.ack((f as Extract<Frame, { type: 'deliver' }>).seq);
    const rs = await ra.waitCount((f) => f.type === 'receipt' && accepted.includes(f.id), CAP, 'receipts');
    for (const f of rs) ra.ack((f as Extract<Frame, { type: 'receipt' }>).seq);
    await ra.barrier();
    const after = envelope(a1, [b1]);
    ra.send(after);
    assert.equal((await ra.answer(after.id)).type, 'accepted');
    await ra.close();
    await rb.close();
  });

  it('an ack with a refusal turns into a failure receipt for the sender; a sender whose own queue is full may not send', async () => {
    const a = await loginNode(cloud, otp);
    const b = await loginNode(cloud, otp);
    const [a1, b1] = [device('ref-a1'), device('ref-b1')];
    await publish(cloud, a, [a1]);
    await publish(cloud, b, [b1]);
    const ra = await Relay.connect(cloud, a);
    const rb = await Relay.connect(cloud, b);
    const env = envelope(a1, [b1]);
    ra.send(env);
    assert.equal((await ra.answer(env.id)).type, 'accepted');
    const d = await rb.waitFor<Extract<Frame, { type: 'deliver' }>>((f) => delivers(f) && f.envelope.id === env.id, 'delivery');
    rb.sendRaw(JSON.stringify({ type: 'ack', seq: d.seq, refused: { device_ids: [b1.id], error: 'recipient_backlog_full' } }));
    const r = await ra.waitFor<Extract<Frame, { type: 'receipt' }>>((f) => receipts(f) && f.id === env.id, 'receipt');
    assert.equal(r.error, 'recipient_backlog_full');
    assert.deepEqual(r.device_ids, [b1.id]);
    await rb.barrier();
    // a never acks its receipts: fill a's own queue with receipts, then a may not send (its receipts would pile up).
    for (let i = 0; i < CAP - 1; i++) {
      const e = envelope(a1, [b1]);
      ra.send(e);
      assert.equal((await ra.answer(e.id)).type, 'accepted');
      const dd = await rb.waitFor<Extract<Frame, { type: 'deliver' }>>((f) => delivers(f) && f.envelope.id === e.id, 'delivery');
      rb.ack(dd.seq);
      await ra.waitFor((f) => receipts(f) && f.id === e.id, 'receipt');
    }
    const blocked = envelope(a1, [b1]);
    ra.send(blocked);
    const ans = await ra.answer(blocked.id);
    assert.equal(ans.type === 'rejected' && ans.error, 'sender_backlog_full');
    await ra.close();
    await rb.close();
  });
});
