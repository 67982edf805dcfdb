// What the home-mesh process tests share: pair two headless desktops with each other (as the desktop UI does, by
// the other's pairing URL + PIN), watch a phone's device socket, read the home as a phone sees it (its messaging
// directory), and check that a stream of messages arrived exactly once and in order.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import type { MessagingClient, OpenedMessage } from '../../src/shared/client/messaging-client.js';
import { type Envelope, seal } from '../../src/shared/e2ee/index.js';
import { utf8 } from '../../src/shared/encoding.js';
import type { MessageStatusView, MessagingDirectory, MessagingDirectoryDevice, Route } from '../../src/shared/wire/relay.js';
import { eventually, loopbackUrl } from '../helpers/test-node.js';
import type { NodeProcess, PairedPhone } from './processes.js';
import { LINK_WAIT_MS } from './relay-helpers.js';

/** A pairs with B: B shows a pairing code, the person types B's URL and PIN on A (no confirmation step). */
export async function pairDesktops(A: NodeProcess, B: NodeProcess): Promise<void> {
  const start = await B.admin('/auth/pair/start', {});
  assert.equal(start.status, 200, JSON.stringify(start.body));
  const r = await A.admin('/api/admin/pair-remote', { url: loopbackUrl(start.body.url, B), pin: start.body.pin });
  assert.equal(r.status, 200, `pair-remote: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.node?.node_id, B.nodeId, JSON.stringify(r.body));
}

/** A phone's signed device WebSocket, recording every frame (envelope and message_status pushes). */
export async function deviceSocket(phone: PairedPhone, base: string): Promise<{ frames: any[]; close(): void }> {
  const frames: any[] = [];
  const client = new DeviceClient(base, phone.creds);
  const ws = new WebSocket(client.webSocketUrl('/api/device/events'));
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`device socket: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  await eventually(() => frames.some((f) => f.type === 'hello'), 'the device socket hello', LINK_WAIT_MS);
  return { frames, close: () => ws.close() };
}

/** An envelope from one test phone to another, sealed with the keys the test holds (no directory needed). */
export function sealBetween(from: PairedPhone, to: PairedPhone, text: string): Envelope {
  return seal(utf8.encode(JSON.stringify({ t: 'text', body: text })), {
    from: { device_id: from.deviceId, privateKey: from.phone.privateKey, publicKey: from.phone.publicKey },
    to: [{ device_id: to.deviceId, publicKey: to.phone.publicKey }],
  });
}

export const entryOf = (dir: MessagingDirectory, deviceId: string): MessagingDirectoryDevice | undefined =>
  dir.devices.find((d) => d.device_id === deviceId);

/** Waits until the phone's directory shows `deviceId` as a device of the home served by `nodeId`, reachable by `route`. */
export async function waitHomeDevice(
  client: MessagingClient,
  deviceId: string,
  nodeId: string,
  route: Route,
  what: string,
): Promise<MessagingDirectoryDevice> {
  let last: unknown;
  try {
    return await eventually(
      async () => {
        const dir = await client.directory(true);
        const e = entryOf(dir, deviceId);
        last = { device: e, nodes: dir.nodes, cloud: dir.cloud };
        return e && e.home === 'home' && e.node_id === nodeId && e.route === route ? e : undefined;
      },
      what,
      LINK_WAIT_MS,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

/** Waits until the phone's directory lists paired desktop `nodeId` as online (its peer link up) or not. */
export async function waitNodeOnline(client: MessagingClient, nodeId: string, online: boolean, what: string): Promise<void> {
  let last: unknown;
  try {
    await eventually(
      async () => {
        const dir = await client.directory(true);
        last = dir.nodes;
        return dir.nodes.find((n) => n.node_id === nodeId)?.online === online;
      },
      what,
      LINK_WAIT_MS,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; nodes: ${JSON.stringify(last)}`);
  }
}

/** The sender's outbox rows for `ids`, once every one of them satisfies `done` (says which did not otherwise). */
export async function waitOutbox(
  client: MessagingClient,
  ids: readonly string[],
  done: (m: MessageStatusView) => boolean,
  what: string,
): Promise<Map<string, MessageStatusView>> {
  let byId = new Map<string, MessageStatusView>();
  try {
    await eventually(
      async () => {
        byId = new Map((await client.outbox()).map((m) => [m.id, m]));
        return ids.every((id) => {
          const m = byId.get(id);
          return m !== undefined && done(m);
        });
      },
      what,
      LINK_WAIT_MS,
    );
  } catch (err) {
    const bad = ids
      .filter((id) => {
        const m = byId.get(id);
        return !m || !done(m);
      })
      .slice(0, 5)
      .map((id) => byId.get(id) ?? { id, missing: true });
    throw new Error(`${(err as Error).message}; e.g. ${JSON.stringify(bad)}`);
  }
  return byId;
}

/** Every expected id exactly once, in the expected order; says precisely what went wrong otherwise. */
export function assertExactlyOnceInOrder(got: readonly OpenedMessage[], expectedIds: readonly string[], what: string): void {
  const ids = got.map((m) => m.id);
  const count = new Map<string, number>();
  for (const id of ids) count.set(id, (count.get(id) ?? 0) + 1);
  const dupes = [...count].filter(([, n]) => n > 1).map(([id]) => id);
  const expected = new Set(expectedIds);
  const missing = expectedIds.filter((id) => !count.has(id));
  const strangers = ids.filter((id) => !expected.has(id));
  assert.deepEqual(dupes, [], `${what}: delivered more than once`);
  assert.deepEqual(missing.slice(0, 10), [], `${what}: ${missing.length} of ${expectedIds.length} lost`);
  assert.deepEqual(strangers, [], `${what}: messages nobody sent in this run`);
  assert.deepEqual(ids, [...expectedIds], `${what}: out of order`);
  const unopened = got.filter((m) => !m.ok);
  assert.deepEqual(unopened.slice(0, 3), [], `${what}: ${unopened.length} could not be opened`);
}
