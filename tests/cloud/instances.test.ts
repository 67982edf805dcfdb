// Two instances of one cloud in this process, on one PostgreSQL database and one NATS server (the same data dir,
// so the same cloud.key): the relay across them. Sockets are raw relay clients (relay-client.ts); every wait is
// for a frame or a close. tests/relay/cloud-instances.test.ts does the same with real nodes behind HAProxy.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { RELAY_CLOSE } from '../../src/cloud/relay-hub.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { natsSkipReason, startNatsServer, type TestNatsServer } from '../helpers/nats-server.js';
import { type PostgresCluster, postgresSkipReason, startPostgresCluster } from '../helpers/postgres-cluster.js';
import { device, envelope, type Frame, loginNode, publish, Relay, type TestNode } from './relay-client.js';

type Deliver = Extract<Frame, { type: 'deliver' }>;
const delivers = (f: Frame): f is Deliver => f.type === 'deliver';

describe('two cloud instances on PostgreSQL + NATS', { skip: postgresSkipReason() ?? natsSkipReason(), timeout: 120_000 }, () => {
  let cluster: PostgresCluster;
  let nats: TestNatsServer;
  let dataDir: string;
  let one: RunningCloud;
  let two: RunningCloud;
  let alice: TestNode;
  let bob: TestNode;
  const otp = new MemoryOtpSender();
  const aPhone = device('a-phone');
  const bDesk = device('b-desk', 'desktop');

  before(async () => {
    cluster = await startPostgresCluster();
    nats = await startNatsServer();
    dataDir = mkdtempSync(join(tmpdir(), 'salita-instances-'));
    const database = cluster.createDatabase('salita_instances');
    // A short sweep: the bus-down case waits for it (a frame, not a time, is what the test waits for).
    const common = { dataDir, port: 0, otpSender: otp, log: () => {}, database, bus: nats.url, relaySweepMs: 200 };
    one = await startCloud({ ...common, instance: 'one' });
    two = await startCloud({ ...common, instance: 'two' });
    assert.deepEqual(one.publicKey, two.publicKey, 'one cloud key');
    // Logged in on one, their tokens work on the other: the store is shared.
    alice = await loginNode(one, otp);
    bob = await loginNode(two, otp);
    await publish(two, alice, [aPhone]);
    await publish(one, bob, [bDesk]);
  });
  after(async () => {
    await one?.stop();
    await two?.stop();
    await nats?.stop();
    cluster?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('an envelope accepted by one is delivered by the other, and its receipt comes back', async () => {
    const a = await Relay.connect(one, alice);
    const b = await Relay.connect(two, bob);
    const env = envelope(aPhone, [bDesk]);
    a.send(env);
    assert.equal((await a.answer(env.id)).type, 'accepted');
    const d = await b.waitFor<Deliver>((f) => delivers(f) && f.envelope.id === env.id, 'the delivery on the other instance');
    b.ack(d.seq);
    const r = await a.waitFor((f) => f.type === 'receipt' && f.id === env.id, 'the receipt back');
    if (r.type === 'receipt') a.ack(r.seq);
    await a.barrier();
    await Promise.all([a.close(), b.close()]);
  });

  it('a newer socket of a node on the other instance closes the older with 4409', async () => {
    const first = await Relay.connect(one, bob);
    const second = await Relay.connect(two, bob);
    assert.deepEqual(await first.closed, { code: RELAY_CLOSE.replaced, reason: 'replaced' });
    assert.equal(second.ws.readyState, second.ws.OPEN);
    await second.close();
  });

  it('the same envelope sent again through the other instance is accepted and delivered once', async () => {
    const b = await Relay.connect(two, bob);
    const env = envelope(aPhone, [bDesk]);
    const a1 = await Relay.connect(one, alice);
    a1.send(env);
    assert.equal((await a1.answer(env.id)).type, 'accepted');
    // The node did not hear the answer (say) and resends on its next socket, which the balancer put elsewhere.
    const a2 = await Relay.connect(two, alice);
    await a1.closed;
    a2.send(env);
    assert.equal((await a2.answer(env.id)).type, 'accepted');
    const marker = envelope(aPhone, [bDesk]);
    a2.send(marker);
    const m = await b.waitFor<Deliver>((f) => delivers(f) && f.envelope.id === marker.id, 'the envelope after it');
    assert.equal(b.frames.filter((f) => delivers(f) && f.envelope.id === env.id).length, 1, 'delivered once');
    for (const f of b.frames) if (delivers(f)) b.ack(f.seq);
    assert.ok(m.seq > 0);
    await b.barrier();
    await Promise.all([a2.close(), b.close()]);
  });

  it('with the bus down, delivery and the one-socket rule go on by the sweep; with it back, by the bus', async () => {
    const b = await Relay.connect(two, bob);
    await nats.stop();
    const a = await Relay.connect(one, alice);
    const env = envelope(aPhone, [bDesk]);
    a.send(env);
    assert.equal((await a.answer(env.id)).type, 'accepted');
    const d = await b.waitFor<Deliver>((f) => delivers(f) && f.envelope.id === env.id, 'delivered without the bus');
    b.ack(d.seq);
    // bob moves to instance one: nothing on the bus tells two, its sweep sees the newer generation.
    const moved = await Relay.connect(one, bob);
    assert.deepEqual(await b.closed, { code: RELAY_CLOSE.replaced, reason: 'replaced' });
    await nats.start();
    const back = await Relay.connect(two, alice);
    await a.closed;
    const after = envelope(aPhone, [bDesk]);
    back.send(after);
    const d2 = await moved.waitFor<Deliver>((f) => delivers(f) && f.envelope.id === after.id, 'delivered with the bus back');
    moved.ack(d2.seq);
    await moved.barrier();
    await Promise.all([back.close(), moved.close()]);
  });

  it('share one login rate limit: what one instance admitted counts on the other', async () => {
    const database = cluster.createDatabase('salita_instances_rate');
    const dir = mkdtempSync(join(tmpdir(), 'salita-instances-rate-'));
    const limits = { global: { ratePerSec: 0.001, burst: 3 } };
    const common = { dataDir: dir, port: 0, otpSender: otp, log: () => {}, database, bus: nats.url, limits };
    const x = await startCloud({ ...common, instance: 'x' });
    const y = await startCloud({ ...common, instance: 'y' });
    try {
      const challenge = (cloud: RunningCloud) =>
        fetch(`${cloud.url}/api/auth/challenge`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ device_id: Buffer.alloc(32, 7).toString('base64url'), email: 'rate@salita.test' }),
        });
      for (const cloud of [x, y, x]) assert.equal((await challenge(cloud)).status, 200);
      const refused = await challenge(y);
      assert.equal(refused.status, 429);
      assert.equal(((await refused.json()) as { error: string }).error, 'too_many_attempts');
    } finally {
      await x.stop();
      await y.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
