// The cloud as the fallback of the home mesh, with real processes: desktops A and B (built headless nodes, each
// its own process) are paired with each other AND linked to one cloud process, with a short homeFallbackMs.
// Their peer link is cut while both stay linked to the cloud: envelopes from A-phone to B-phone then go through
// the cloud (route 'cloud') and arrive once, in order; when the link returns, new envelopes go by the LAN again.
//
// How the LAN path alone is cut, on loopback: a desktop dials the other at the port it learnt when they paired.
// A is moved to another port right after the pairing (so B can no longer dial A; A still dials B); the cut is B
// restarting on another port (A can no longer dial B either), which B's cloud link does not care about. The old
// ports are held by listeners that drop every connection, so nothing else can answer there. The link returns
// when B is back on its first port. Waits are generous; nothing asserts speed.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Envelope } from '../../src/shared/e2ee/index.js';
import { cleanupAll } from '../helpers/test-node.js';
import { assertExactlyOnceInOrder, pairDesktops, sealBetween, waitHomeDevice, waitNodeOnline, waitOutbox } from './home-mesh-helpers.js';
import {
  type CloudProcess,
  linkToCloud,
  type NodeProcess,
  type PairedPhone,
  pairPhoneWith,
  requireBuild,
  startCloudProcess,
  startNodeProcess,
} from './processes.js';
import { receive, waitConnected } from './relay-helpers.js';

const TIMINGS = { homeFallbackMs: 4000 };

/** Occupies a loopback port with a listener that drops every connection (a peer that is not there). */
async function holdPort(port: number): Promise<Server> {
  const s = createServer((sock) => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve());
  });
  return s;
}

describe('home mesh: the cloud carries what the LAN cannot, then the LAN again (real processes)', { timeout: 900_000 }, () => {
  let cloud: CloudProcess;
  let A: NodeProcess;
  let B: NodeProcess;
  let phoneA: PairedPhone;
  let phoneB: PairedPhone;
  let portB = 0;
  const held: Server[] = [];
  const a = () => phoneA.messaging(A.base);
  const b = () => phoneB.messaging(B.base);

  async function send(n: number, tag: string): Promise<Envelope[]> {
    const envs: Envelope[] = [];
    const client = a();
    for (let i = 0; i < n; i++) {
      const e = sealBetween(phoneA, phoneB, `${tag}-${i}`);
      const r = await client.sendEnvelope(e);
      assert.notEqual(r.status, 'failed', JSON.stringify(r));
      envs.push(e);
    }
    return envs;
  }

  before(async () => {
    requireBuild();
    cloud = await startCloudProcess();
    let firstA: NodeProcess;
    [firstA, B] = await Promise.all([
      startNodeProcess({ timings: TIMINGS, label: 'node A' }),
      startNodeProcess({ timings: TIMINGS, label: 'node B' }),
    ]);
    portB = B.port;
    phoneA = await pairPhoneWith(firstA, 'Anna phone');
    phoneB = await pairPhoneWith(B, 'Bo phone');
    await pairDesktops(firstA, B);
    // B knows A at firstA's port from now on; move A away from it (see the top of the file).
    await firstA.stop();
    held.push(await holdPort(firstA.port));
    A = await startNodeProcess({ dataDir: firstA.dataDir, timings: TIMINGS, label: 'node A (moved)' });
    assert.notEqual(A.port, firstA.port);
    await linkToCloud(A, cloud);
    await linkToCloud(B, cloud);
    await Promise.all([waitConnected(A, 'node A'), waitConnected(B, 'node B')]);
  });

  after(async () => {
    await Promise.all([A?.stop(), B?.stop(), cloud?.stop()]);
    for (const s of held) s.close();
    await cleanupAll();
  });

  it('with the link up, A-phone -> B-phone goes over the LAN even though a cloud is linked', async () => {
    await waitNodeOnline(a(), B.nodeId, true, "A's link to B up (A dials B)");
    await waitHomeDevice(a(), phoneB.deviceId, B.nodeId, 'lan', 'B-phone reachable over the LAN');
    const envs = await send(5, 'before');
    assertExactlyOnceInOrder(
      await receive(b(), 5),
      envs.map((e) => e.id),
      'before the cut',
    );
    await waitOutbox(
      a(),
      envs.map((e) => e.id),
      (m) => m.status === 'seen' && m.route === 'lan',
      'route lan, then seen',
    );
  });

  it('the peer link is cut, both still linked to the cloud: envelopes go through the cloud and arrive once, in order', async () => {
    await B.stop();
    held.push(await holdPort(portB));
    B = await startNodeProcess({ dataDir: B.dataDir, timings: TIMINGS, label: 'node B (cut off from A)' });
    assert.notEqual(B.port, portB);
    await waitConnected(B, 'node B on its new port');
    await waitNodeOnline(a(), B.nodeId, false, 'A to see its link to B down');
    // Some right away (queued for B until the fallback moves them), some once A would route by the cloud.
    const early = await send(20, 'cut-early');
    await waitHomeDevice(a(), phoneB.deviceId, B.nodeId, 'cloud', "A-phone's directory to route B-phone by the cloud");
    const late = await send(20, 'cut-late');
    const all = [...early, ...late].map((e) => e.id);
    const got = await receive(b(), all.length);
    assertExactlyOnceInOrder(got, all, 'through the cloud');
    const rows = await waitOutbox(a(), all, (m) => m.status === 'delivered' || m.status === 'failed', 'A-phone to see them delivered');
    assert.deepEqual(
      all
        .map((id) => rows.get(id)!)
        .filter((m) => m.status !== 'delivered' || m.route !== 'cloud')
        .slice(0, 5),
      [],
      'every one delivered through the cloud',
    );
  });

  it('the link returns: new envelopes go by the LAN again, arrive once, and nothing from the cloud comes twice', async () => {
    await B.stop();
    await new Promise<void>((resolve) => held.pop()!.close(() => resolve()));
    B = await startNodeProcess({ dataDir: B.dataDir, port: portB, timings: TIMINGS, label: 'node B (back on its port)' });
    await waitNodeOnline(a(), B.nodeId, true, "A's link to B up again");
    await waitHomeDevice(a(), phoneB.deviceId, B.nodeId, 'lan', 'B-phone reachable over the LAN again');
    const envs = await send(20, 'after');
    const got = await receive(b(), 20);
    assertExactlyOnceInOrder(
      got,
      envs.map((e) => e.id),
      'after the link returned',
    );
    await waitOutbox(
      a(),
      envs.map((e) => e.id),
      (m) => m.status === 'seen' && m.route === 'lan',
      'route lan again, then seen',
    );
    assert.deepEqual(
      (await b().inbox(0, 500)).messages.map((m) => m.envelope.id),
      [],
      'nothing else arrived',
    );
  });
});
