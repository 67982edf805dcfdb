// Files between two homes through the cloud, with real processes: a 64 MiB file goes from a phone of home A to a
// phone of home B. A uploads the blob into the cloud's blob store once the phone's upload is in; B fetches it
// from there. Both reach the cloud through slow loopback proxies, so that A is SIGKILLed while it uploads and B
// while it downloads; restarted on their data dirs, A goes on with the same upload from the cloud's offset and B
// from the bytes it kept (neither from zero), and what B's phone downloads, decrypts and checks is the very file
// that was sent. Nothing here asserts speed.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, eventually, filesUnder } from '../helpers/test-node.js';
import { deviceAuth, fetchFile, fileStatus, markReceived, startUpload, testFile } from './file-helpers.js';
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
import { LINK_WAIT_MS, waitConnected, waitInDirectory } from './relay-helpers.js';
import { type ThrottleProxy, throttleProxy } from './throttle-proxy.js';

const MiB = 1024 * 1024;

const status = (base: string, phone: PairedPhone, id: string) => fileStatus(base, phone.creds, id);

describe('files between two homes through the cloud (real processes)', { timeout: 900_000 }, () => {
  let cloud: CloudProcess;
  let slow: ThrottleProxy;
  let slowUp: ThrottleProxy;
  let A: NodeProcess;
  let B: NodeProcess;
  let phoneA: PairedPhone;
  let phoneB: PairedPhone;

  before(async () => {
    requireBuild();
    cloud = await startCloudProcess();
    slow = await throttleProxy(cloud.port, { down: 6 * MiB });
    slowUp = await throttleProxy(cloud.port, { up: 6 * MiB });
    [A, B] = await Promise.all([startNodeProcess({ label: 'node A' }), startNodeProcess({ label: 'node B' })]);
    phoneA = await pairPhoneWith(A, 'Anna phone');
    phoneB = await pairPhoneWith(B, 'Bo phone');
    await linkToCloud(A, { ...cloud, url: slowUp.url });
    await linkToCloud(B, { ...cloud, url: slow.url });
    await Promise.all([waitConnected(A, 'node A'), waitConnected(B, 'node B')]);
    await waitInDirectory(phoneA.messaging(A.base), phoneB.deviceId);
  });

  after(async () => {
    await Promise.all([A?.stop(), B?.stop()]);
    await slow?.close();
    await slowUp?.close();
    await cloud?.stop();
    await cleanupAll();
  });

  it('64 MiB A-phone -> B-phone: A is SIGKILLed mid-upload and B mid-download, each resumes, the file is byte-identical', async () => {
    const file = testFile(64 * MiB);
    const { upload, done } = startUpload({
      base: A.base,
      auth: deviceAuth(A.base, phoneA.creds),
      to: [phoneB.deviceId],
      bytes: file.bytes,
    });
    const sent = await done;
    assert.equal(upload.ciphertextSize, 64 * MiB + 16 * 1024);

    // A pushes the blob up to the cloud: kill it half way, then watch that the same upload goes on.
    const uploads = join(cloud.dataDir, 'blobs', 'uploads');
    const seen = new Set<string>();
    const look = () => {
      let most = 0;
      for (const name of readdirSync(uploads)) {
        if (name.endsWith('.json')) continue;
        const size = statSync(join(uploads, name)).size;
        if (size > 0) seen.add(name);
        most = Math.max(most, size);
      }
      return most;
    };
    await eventually(
      () => {
        const most = look();
        return most > 12 * MiB && most < upload.ciphertextSize;
      },
      'A has pushed a part of the file up',
      LINK_WAIT_MS,
    );
    await A.kill9();
    const upBefore = look();
    A = await startNodeProcess({ label: 'node A (restarted)', dataDir: A.dataDir, port: A.port });

    let before = 0;
    const watcher = setInterval(look, 100);
    await eventually(
      async () => {
        const s = await status(B.base, phoneB, sent.blobId);
        before = s.body?.received ?? 0;
        return before > 12 * MiB && before < upload.ciphertextSize;
      },
      'B has fetched a part of the file from the cloud',
      LINK_WAIT_MS,
    );
    clearInterval(watcher);
    assert.equal(seen.size, 1, `A went on with the upload it had begun (${upBefore} bytes up when it was killed), not a new one`);
    await B.kill9();
    B = await startNodeProcess({ label: 'node B (restarted)', dataDir: B.dataDir, port: B.port });
    const kept = await status(B.base, phoneB, sent.blobId);
    assert.equal(kept.code, 200, 'B still knows the file after the restart');
    assert.ok((kept.body?.received ?? 0) >= 8 * MiB, `B kept the bytes it had (had ${before}, kept ${kept.body?.received})`);

    const got = await fetchFile(B.base, deviceAuth(B.base, phoneB.creds), sent);
    assert.equal(got.size, file.bytes.length);
    assert.equal(got.sha256, file.sha256, 'SHA-256 of what arrived equals what was sent');

    // The cloud has it whole: A's copy is no longer needed there.
    await eventually(
      async () => (await status(A.base, phoneA, sent.blobId)).code === 404,
      'A removed its copy once the cloud had it',
      LINK_WAIT_MS,
    );
    // Every recipient node has it: the cloud keeps no byte of it.
    await eventually(
      () => filesUnder(cloud.dataDir).every((f) => statSync(f).size < MiB),
      "the cloud removed the blob once B's node had it",
      LINK_WAIT_MS,
    );
    assert.equal(await markReceived(B.base, phoneB.creds, sent.blobId), 200);
    await eventually(
      async () => (await status(B.base, phoneB, sent.blobId)).code === 404,
      "B removed its copy once B's phone had it",
      LINK_WAIT_MS,
    );
  });
});
