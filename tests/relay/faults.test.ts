// Relay faults, with real processes: the cloud is down while 1,000 messages are sent, then comes back; a
// node is SIGKILLed in the middle of a stream, then restarted. Every message must arrive exactly once, in the
// order the sending node accepted it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OpenedMessage } from '../../src/shared/client/messaging-client.js';
import { cleanupAll } from '../helpers/test-node.js';
import { type CloudProcess, type NodeProcess, type PairedPhone, startCloudProcess, startNodeProcess } from './processes.js';
import { receive, sendWithRetry, startTwoHomes, waitConnected } from './relay-helpers.js';

const N = 1000;
const label = (run: string, i: number) => `${run}-${String(i).padStart(4, '0')}`;

/** Every expected text exactly once and in order; says precisely what went wrong otherwise. */
function assertExactlyOnceInOrder(got: OpenedMessage[], run: string): void {
  const texts = got.map((m) => (m.ok ? m.text : `<unopened ${m.error}>`)).filter((t) => t.startsWith(`${run}-`) || t.startsWith('<'));
  const seen = new Map<string, number>();
  for (const t of texts) seen.set(t, (seen.get(t) ?? 0) + 1);
  const dupes = [...seen].filter(([, n]) => n > 1).map(([t]) => t);
  const missing = Array.from({ length: N }, (_, i) => label(run, i)).filter((t) => !seen.has(t));
  assert.deepEqual(dupes, [], 'delivered more than once');
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} lost`);
  assert.deepEqual(
    texts,
    Array.from({ length: N }, (_, i) => label(run, i)),
    'out of order',
  );
}

describe('relay faults (real processes)', { timeout: 900_000 }, () => {
  let cloud: CloudProcess;
  let A: NodeProcess;
  let B: NodeProcess;
  let phoneA: PairedPhone;
  let phoneB: PairedPhone;

  before(async () => {
    ({ cloud, A, B, phoneA, phoneB } = await startTwoHomes(['Sender phone', 'Receiver phone']));
  });

  after(async () => {
    await Promise.all([A?.stop(), B?.stop(), cloud?.stop()]);
    await cleanupAll();
  });

  it(`the cloud is stopped while ${N} messages are sent; after its restart all arrive once, in order`, async () => {
    const a = phoneA.messaging(A.base);
    await cloud.stop();
    for (let i = 0; i < N; i++) {
      const r = await a.sendText(phoneB.deviceId, label('down', i));
      assert.equal(r.status, 'queued', 'with the cloud down a message can only be queued');
    }
    cloud = await startCloudProcess({ dataDir: cloud.dataDir, port: cloud.port });
    const got = await receive(phoneB.messaging(B.base), N);
    assertExactlyOnceInOrder(got, 'down');
    assert.ok(
      got.every((m) => m.ok),
      'every message opens',
    );
  });

  it(`the receiving node is SIGKILLed mid-stream and restarted: nothing lost, nothing twice`, async () => {
    const a = phoneA.messaging(A.base);
    const got: OpenedMessage[] = [];
    for (let i = 0; i < N; i++) {
      if (i === N / 4) {
        // Let some reach B-phone first, so the kill lands while B-node is storing and acking.
        got.push(...(await receive(phoneB.messaging(B.base), 1)));
        await B.kill9();
      }
      await a.sendText(phoneB.deviceId, label('killB', i));
    }
    B = await startNodeProcess({ dataDir: B.dataDir, port: B.port });
    await waitConnected(B, 'node B after SIGKILL');
    got.push(...(await receive(phoneB.messaging(B.base), N - got.length)));
    assertExactlyOnceInOrder(got, 'killB');
  });

  it(`the sending node is SIGKILLed mid-stream; the phone retries the same envelope: nothing lost, nothing twice`, async () => {
    let baseA = A.base;
    const a = () => phoneA.messaging(baseA);
    let killAt: () => void = () => {};
    const restart = (async () => {
      // Kill A while the phone is in the middle of its stream, then bring it back on the same data dir.
      await new Promise<void>((resolve) => {
        killAt = resolve;
      });
      await A.kill9();
      A = await startNodeProcess({ dataDir: A.dataDir, port: A.port });
      baseA = A.base;
    })();
    const envelopes = [];
    const sealer = phoneA.messaging(A.base);
    for (let i = 0; i < N; i++) envelopes.push(await sealer.sealText(phoneB.deviceId, label('killA', i)));
    for (let i = 0; i < N; i++) {
      if (i === N / 2) killAt();
      await sendWithRetry(a, envelopes[i]!);
    }
    await restart;
    await waitConnected(A, 'node A after SIGKILL');
    const got = await receive(phoneB.messaging(B.base), N);
    assertExactlyOnceInOrder(got, 'killA');
  });
});
