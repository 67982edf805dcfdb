// Phones of a test node as messaging devices on forward-secret sessions: a MessagingClient under the phone's
// pairing key with its own DeviceSessions (in memory), prekeys published; and reading a whole inbox.
import { MessagingClient, type MessagingTransport } from '../../src/shared/client/messaging-client.js';
import { DeviceSessions } from '../../src/shared/device-keys/device-sessions.js';
import type { PrekeyPolicy } from '../../src/shared/device-keys/own-prekeys.js';
import { MemorySessionStore } from '../../src/shared/device-keys/session-store.js';
import type { X25519KeyPair } from '../../src/shared/ratchet/pqxdh.js';
import type { pairPhone } from './test-node.js';

export type Paired = Awaited<ReturnType<typeof pairPhone>>;

export const keysOf = (p: Paired) => ({
  device_id: p.phone.identity.node_id,
  privateKey: p.phone.privateKey,
  publicKey: p.phone.publicKey,
});
export const idOf = (p: Paired) => p.phone.identity.node_id;

/** Few one-time prekeys, so running out is quick to reach. */
export const SMALL: Partial<PrekeyPolicy> = { oneTimeCount: 5, lowWater: 2 };

export function sessionsFor(deviceId: string, keys: X25519KeyPair, policy: Partial<PrekeyPolicy> = SMALL): DeviceSessions {
  return new DeviceSessions({ deviceId, identity: keys, store: new MemorySessionStore(), policy });
}

/** A phone's client with sessions under its pairing key, its prekeys published. */
export async function withSessions(p: Paired, transport: MessagingTransport = p.client): Promise<MessagingClient> {
  const me = keysOf(p);
  const client = new MessagingClient(transport, me, '/api/messages', sessionsFor(me.device_id, me));
  await client.publishPrekeys();
  return client;
}

/** Everything in the inbox, opened and acked. */
export async function readAll(client: MessagingClient) {
  const page = await client.inbox();
  const opened = [];
  for (const item of page.messages) opened.push({ v: item.envelope.v, ...(await client.openItem(item)) });
  if (page.messages.length) await client.ack(page.next_after);
  return opened;
}
