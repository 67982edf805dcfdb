// One cloud as three instances on one PostgreSQL and one nats-server, behind a real HAProxy, with two homes
// (headless nodes, a phone each) linked through it — all real processes on loopback. The homes' nodes hold their
// relay sockets on different instances, so every message crosses the bus. 1,000 messages each way arrive exactly
// once and in order: with all instances up, across a `kill -9` of the instance holding node A's relay socket, and
// across a restart of nats-server.
//
// Which instance holds which node is arranged, not hoped for: each home links through its own HAProxy frontend
// (a process per home here; one HAProxy with two frontends is the same) whose only regular server is that home's
// instance (A: i1, B: i2), with i3 as the `backup` server of both. HAProxy sends a backup nothing while the regular
// server is up, so A's relay socket is on i1 and B's on i2 as long as both run; once i1 dies, A's reconnect goes to
// i3. Round robin would put the relay socket wherever the node's connection count happens to land, and then the
// test would have to find out afterwards. HAProxy's stats (sessions open per server) confirm the placement.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { OpenedMessage } from '../../src/shared/client/messaging-client.js';
import { haproxySkipReason, startHaproxy, type TestHaproxy } from '../helpers/haproxy.js';
import { natsSkipReason, startNatsServer, type TestNatsServer } from '../helpers/nats-server.js';
import { type PostgresCluster, postgresSkipReason, startPostgresCluster } from '../helpers/postgres-cluster.js';
import { cleanupAll, eventually, tempDir } from '../helpers/test-node.js';
import { assertExactlyOnceInOrder, sealBetween } from './home-mesh-helpers.js';
import {
  type CloudProcess,
  type NodeProcess,
  type PairedPhone,
  pairPhoneWith,
  requireBuild,
  startCloudProcess,
  startNodeProcess,
} from './processes.js';
import { LINK_WAIT_MS, receive, sendWithRetry, waitConnected, waitInDirectory } from './relay-helpers.js';

const N = 1000;
/** Receiving a whole stream through three instances on a shared machine: generous, never a speed assertion. */
const STREAM_WAIT_MS = 300_000;

describe('three cloud instances on PostgreSQL + NATS behind HAProxy (real processes)', {
  skip: postgresSkipReason() ?? natsSkipReason() ?? haproxySkipReason(),
  timeout: 1_200_000,
}, () => {
  let pg: PostgresCluster;
  let nats: TestNatsServer;
  let database: string;
  /** i1, i2, i3; an entry is replaced when that instance is restarted. */
  const instances: CloudProcess[] = [];
  let lbA: TestHaproxy;
  let lbB: TestHaproxy;
  let A: NodeProcess;
  let B: NodeProcess;
  let phoneA: PairedPhone;
  let phoneB: PairedPhone;
  const a = () => phoneA.messaging(A.base);
  const b = () => phoneB.messaging(B.base);

  const startInstance = (k: number, dataDir: string, port = 0) =>
    startCloudProcess({ dataDir, port, database, bus: nats.url, instance: `i${k}` });

  /** Until HAProxy has seen every server answer /readyz (before that, its first checks are still to come). */
  const allUp = (lb: TestHaproxy, what: string) =>
    eventually(async () => (await lb.servers()).every((s) => s.status === 'UP' && s.checkStatus === 'L7OK'), what, LINK_WAIT_MS);

  /** Until the node's relay socket (a long-lived tunnel) is open through `lb` to server `name`, and only there. */
  const relayOn = (lb: TestHaproxy, name: string, what: string) =>
    eventually(
      async () => {
        const servers = await lb.servers();
        return servers.every((s) => (s.name === name ? s.sessions > 0 : s.sessions === 0));
      },
      what,
      LINK_WAIT_MS,
    );

  before(async () => {
    requireBuild();
    pg = await startPostgresCluster();
    database = pg.createDatabase('salita_cloud');
    nats = await startNatsServer();
    // The first instance makes cloud.key; the others get a copy: one cloud, one static key (the nodes pin it).
    const first = await startInstance(1, tempDir('salita-cloud-i1-'));
    const dirs = [tempDir('salita-cloud-i2-'), tempDir('salita-cloud-i3-')];
    for (const d of dirs) copyFileSync(join(first.dataDir, 'cloud.key'), join(d, 'cloud.key'));
    instances.push(first, ...(await Promise.all(dirs.map((d, k) => startInstance(k + 2, d)))));
    const [i1, i2, i3] = instances as [CloudProcess, CloudProcess, CloudProcess];
    lbA = await startHaproxy([
      { port: i1.port, name: 'i1' },
      { port: i3.port, name: 'i3', backup: true },
    ]);
    lbB = await startHaproxy([
      { port: i2.port, name: 'i2' },
      { port: i3.port, name: 'i3', backup: true },
    ]);
    await Promise.all([allUp(lbA, "home A's frontend sees i1 and i3 ready"), allUp(lbB, "home B's frontend sees i2 and i3 ready")]);

    [A, B] = await Promise.all([startNodeProcess({ label: 'node A' }), startNodeProcess({ label: 'node B' })]);
    // Pair first: the devices are then published as soon as each link comes up.
    phoneA = await pairPhoneWith(A, 'Anna phone');
    phoneB = await pairPhoneWith(B, 'Bo phone');
    await linkThrough(A, lbA.url, instances);
    await linkThrough(B, lbB.url, instances);
    await Promise.all([waitConnected(A, 'node A'), waitConnected(B, 'node B')]);
    await relayOn(lbA, 'i1', "node A's relay socket on i1");
    await relayOn(lbB, 'i2', "node B's relay socket on i2");
    await waitInDirectory(a(), phoneB.deviceId);
    await waitInDirectory(b(), phoneA.deviceId);
  });

  after(async () => {
    await Promise.all([A?.stop(), B?.stop()]);
    await Promise.all([lbA?.stop(), lbB?.stop()]);
    await Promise.all(instances.map((c) => c.stop()));
    await nats?.stop();
    pg?.stop();
    await cleanupAll();
  });

  /**
   * N envelopes each way at once (A-phone to B-phone and B-phone to A-phone, one after another per direction).
   * `during` runs at those indexes of A-phone's stream, before that envelope is sent; before the first of them
   * B-phone has had its first messages, so whatever they do to the cloud happens mid-stream. Then both phones
   * read their inboxes to the end: every envelope once, in the order it was sent, and nothing more.
   */
  async function exchange(tag: string, during: Record<number, () => Promise<void>> = {}): Promise<void> {
    const ab = Array.from({ length: N }, (_, i) => sealBetween(phoneA, phoneB, `${tag}-ab-${i}`));
    const ba = Array.from({ length: N }, (_, i) => sealBetween(phoneB, phoneA, `${tag}-ba-${i}`));
    const firstHook = Math.min(...Object.keys(during).map(Number));
    const gotB: OpenedMessage[] = [];
    const fromA = async () => {
      for (let i = 0; i < N; i++) {
        if (i === firstHook) gotB.push(...(await receive(b(), 1, STREAM_WAIT_MS)));
        await during[i]?.();
        await sendWithRetry(a, ab[i]!);
      }
    };
    const fromB = async () => {
      for (const e of ba) await sendWithRetry(b, e);
    };
    await Promise.all([fromA(), fromB()]);
    gotB.push(...(await receive(b(), N - gotB.length, STREAM_WAIT_MS)));
    const gotA = await receive(a(), N, STREAM_WAIT_MS);
    assertExactlyOnceInOrder(
      gotB,
      ab.map((e) => e.id),
      `${tag}: A-phone to B-phone`,
    );
    assertExactlyOnceInOrder(
      gotA,
      ba.map((e) => e.id),
      `${tag}: B-phone to A-phone`,
    );
    assert.equal((await b().inbox(0, 500)).messages.length, 0, `${tag}: nothing more at B-phone`);
    assert.equal((await a().inbox(0, 500)).messages.length, 0, `${tag}: nothing more at A-phone`);
  }

  it(`two homes on different instances (A on i1, B on i2) exchange ${N} messages each way: once each, in order`, async () => {
    await exchange('spread');
  });

  it("kill -9 of the instance holding A's relay socket mid-stream: A reconnects through HAProxy to i3; nothing lost or twice", async () => {
    const i1 = instances[0]!;
    await exchange('kill', {
      [N / 4]: async () => {
        await relayOn(lbA, 'i1', "node A's relay socket still on i1");
        await i1.kill9();
      },
    });
    await relayOn(lbA, 'i3', "node A's relay socket moved to i3");
    // The orchestrator brings i1 back on its port; HAProxy takes it in again (A's socket stays where it is).
    instances[0] = await startInstance(1, i1.dataDir, i1.port);
    await allUp(lbA, 'i1 ready again');
  });

  it('nats-server is restarted mid-stream: delivery resumes, once each, in order', async () => {
    await exchange('bus', {
      [N / 4]: () => nats.stop(),
      [N / 2]: () => nats.start(),
    });
  });
});

/**
 * Links a node through a load balancer the way the desktop UI does: the one-time code is in the log of
 * whichever instance took the login, so every instance's log is watched from here on.
 */
async function linkThrough(node: NodeProcess, url: string, instances: readonly CloudProcess[], email = 'home@salita.test'): Promise<void> {
  const since = instances.map((c) => c.lineCount());
  const login = await node.admin('/api/admin/cloud/login', { url, email });
  if (login.status !== 200 || login.body.status !== 'awaiting_code')
    throw new Error(`cloud login through ${url}: ${login.status} ${JSON.stringify(login.body)}`);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    Promise.any(instances.map((c, k) => c.codeFor(node.cloudDeviceId, since[k]))),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no instance logged the one-time code of ${node.cloudDeviceId}`)), LINK_WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  const r = await node.admin('/api/admin/cloud/code', { code });
  if (r.status !== 200) throw new Error(`cloud code: ${r.status} ${JSON.stringify(r.body)}`);
}
