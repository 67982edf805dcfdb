// What the relay tests do again and again: wait for a link, wait for a device in the directory, read a
// phone's inbox to the end (opening and acking as the phone page does), and send with retries.
import type { MessagingClient, OpenedMessage } from '../../src/shared/client/messaging-client.js';
import type { Envelope } from '../../src/shared/e2ee/index.js';
import { eventually } from '../helpers/test-node.js';
import {
  type CloudProcess,
  cloudStatus,
  linkToCloud,
  type NodeProcess,
  type PairedPhone,
  pairPhoneWith,
  requireBuild,
  startCloudProcess,
  startNodeProcess,
} from './processes.js';

/** Generous: a reconnect may wait out a backoff step (capped at 30 s). Never a speed assertion. */
export const LINK_WAIT_MS = 120_000;

export async function waitConnected(node: NodeProcess, what = 'node'): Promise<void> {
  await eventually(async () => (await cloudStatus(node)) === 'connected', `${what} connected to the cloud`, LINK_WAIT_MS);
}

export async function waitInDirectory(client: MessagingClient, deviceId: string): Promise<void> {
  await eventually(
    async () => (await client.directory(true)).devices.some((d) => d.device_id === deviceId),
    `${deviceId} in the key directory`,
    LINK_WAIT_MS,
  );
}

/**
 * Reads the inbox until `count` messages have arrived (or `limitMs` passed), opening each one and acking each
 * page after it was read, like the phone page. Returns them in inbox order.
 */
export async function receive(client: MessagingClient, count: number, limitMs = LINK_WAIT_MS): Promise<OpenedMessage[]> {
  const got: OpenedMessage[] = [];
  let after = 0;
  await eventually(
    async () => {
      for (;;) {
        const page = await client.inbox(after, 500);
        if (page.messages.length === 0) break;
        for (const item of page.messages) got.push(await client.openItem(item));
        after = page.next_after;
        await client.ack(after);
      }
      return got.length >= count;
    },
    `${count} messages received (have ${got.length})`,
    limitMs,
  );
  return got;
}

/** Sends one envelope, retrying the SAME envelope while the node is unreachable (e.g. restarting). */
export async function sendWithRetry(client: () => MessagingClient, envelope: Envelope, limitMs = LINK_WAIT_MS): Promise<void> {
  const until = Date.now() + limitMs;
  for (;;) {
    try {
      await client().sendEnvelope(envelope);
      return;
    } catch (err) {
      const e = err as { status?: number; message?: string };
      // An answer with a status is a real refusal: that is a failure, not a reason to retry.
      if (e.status !== undefined || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface TwoHomes {
  cloud: CloudProcess;
  A: NodeProcess;
  B: NodeProcess;
  phoneA: PairedPhone;
  phoneB: PairedPhone;
}

/**
 * A cloud and two homes, each node with one paired phone, both linked and each phone able to see the other in
 * the directory. Tests that restart a process keep their own references, so they stop what runs at the end.
 */
export async function startTwoHomes(names: [string, string]): Promise<TwoHomes> {
  requireBuild();
  const cloud = await startCloudProcess();
  const [A, B] = await Promise.all([startNodeProcess(), startNodeProcess()]);
  // Pair first: the devices are then published as soon as each link comes up.
  const phoneA = await pairPhoneWith(A, names[0]);
  const phoneB = await pairPhoneWith(B, names[1]);
  await linkToCloud(A, cloud);
  await linkToCloud(B, cloud);
  await Promise.all([waitConnected(A, 'node A'), waitConnected(B, 'node B')]);
  await waitInDirectory(phoneA.messaging(A.base), phoneB.deviceId);
  await waitInDirectory(phoneB.messaging(B.base), phoneA.deviceId);
  return { cloud, A, B, phoneA, phoneB };
}
