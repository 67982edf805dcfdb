// The cloud streams blobs, never holds one whole: a 1 GiB blob uploaded with tus, checked, downloaded and removed
// must not raise the peak memory (VmHWM) of the cloud's process by 64 MiB over what it used before. The built cloud
// runs as its own process (tests/relay/processes.ts), so the test's own buffers do not count. The bytes are made
// on the fly (a random MiB with its index in front), never held by the test either.
// SALITA_BLOB_MEMORY_MIB sets the size (default 1024).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { CloudBlobs } from '../../src/main/core/cloud/cloud-blobs.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { bytesAt, memory } from '../helpers/made-up-bytes.js';
import { type CloudProcess, requireBuild, startCloudProcess } from '../relay/processes.js';
import { MiB } from './blob-helpers.js';

const SIZE = Number(process.env.SALITA_BLOB_MEMORY_MIB ?? 1024) * MiB;

async function login(cloud: CloudProcess): Promise<string> {
  const id = Buffer.from(NODE_X25519.generateKeyPair().publicKey).toString('base64url');
  const post = async (path: string, body: unknown) =>
    (await (
      await fetch(cloud.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    ).json()) as Record<string, any>;
  const c = await post('/api/auth/challenge', { device_id: id, email: 'home@salita.test' });
  const v = await post('/api/auth/verify', { challenge_id: c.challenge_id, code: await cloud.codeFor(id) });
  return v.noise_session.token as string;
}

describe('cloud blobs: streaming only', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  let cloud: CloudProcess | undefined;
  after(() => cloud?.stop());

  it(`a ${SIZE / MiB} MiB blob through the cloud raises its peak memory by less than 64 MiB`, async () => {
    requireBuild();
    cloud = await startCloudProcess();
    const [sender, recipient] = [await login(cloud), await login(cloud)];
    const recipientId = (await (await fetch(`${cloud.url}/api/me`, { headers: { authorization: `Noise ${recipient}` } })).json()) as {
      device_id: string;
    };
    const up = new CloudBlobs(cloud.url, () => sender);
    const down = new CloudBlobs(cloud.url, () => recipient);
    const to = { [recipientId.device_id]: ['recipient-phone'] };
    const send = async (size: number, ref: string) => {
      const h = createHash('sha256');
      for (let at = 0; at < size; at += 64 * MiB) h.update(bytesAt(at, Math.min(size, at + 64 * MiB)));
      const sha256 = h.digest('hex');
      await up.upload({ sha256, size, to, ref, from: 'sender-phone', read: async (a, b) => bytesAt(a, b), chunkSize: 64 * MiB });
      return sha256;
    };
    const fetchBack = async (sha256: string) => {
      const h = createHash('sha256');
      let n = 0;
      for await (const c of (await down.download(sha256)) as unknown as AsyncIterable<Uint8Array>) {
        h.update(c);
        n += c.length;
      }
      await down.received(sha256);
      return { sha256: h.digest('hex'), n };
    };

    // Warm up every path once (modules, the tus server, the statements), then measure.
    const small = await send(4 * MiB, 'warm-up');
    assert.equal((await fetchBack(small)).sha256, small);
    const before = memory(cloud.proc.child.pid!);
    const sha256 = await send(SIZE, 'big');
    const back = await fetchBack(sha256);
    const afterAll = memory(cloud.proc.child.pid!);
    assert.equal(back.n, SIZE);
    assert.equal(back.sha256, sha256);
    assert.deepEqual(await down.incoming(), [], 'received and gone');
    const grew = afterAll.peak - before.rss;
    assert.ok(grew < 64 * MiB, `the cloud's peak RSS grew by ${(grew / MiB).toFixed(1)} MiB (from ${(before.rss / MiB).toFixed(1)} MiB)`);
  });
});
