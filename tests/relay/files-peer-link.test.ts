// Files between two desktops of one home, with real processes and no cloud: a 64 MiB file goes from a phone of
// desktop A to a phone of desktop B. A offers the blob over the peer link once the upload is in; B pulls it. B is
// SIGKILLed while it pulls and restarted on its data dir; the pull goes on from the bytes B had kept (not from
// zero), and what B's phone downloads, decrypts and checks is the very file that was sent. Then each desktop
// drops its copy once nobody needs it. Nothing here asserts speed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, eventually } from '../helpers/test-node.js';
import { deviceAuth, fetchFile, fileStatus, markReceived, startUpload, testFile } from './file-helpers.js';
import { pairDesktops, waitHomeDevice } from './home-mesh-helpers.js';
import { type NodeProcess, type PairedPhone, pairPhoneWith, requireBuild, startNodeProcess } from './processes.js';
import { LINK_WAIT_MS } from './relay-helpers.js';

const MiB = 1024 * 1024;

const status = (base: string, phone: PairedPhone, id: string) => fileStatus(base, phone.creds, id);

describe('files over the peer link (real processes)', { timeout: 900_000 }, () => {
  let A: NodeProcess;
  let B: NodeProcess;
  let phoneA: PairedPhone;
  let phoneB: PairedPhone;

  before(async () => {
    requireBuild();
    [A, B] = await Promise.all([startNodeProcess({ label: 'node A' }), startNodeProcess({ label: 'node B' })]);
    phoneA = await pairPhoneWith(A, 'Anna phone');
    phoneB = await pairPhoneWith(B, 'Bo phone');
    await pairDesktops(A, B);
    await waitHomeDevice(phoneA.messaging(A.base), phoneB.deviceId, B.nodeId, 'lan', "A's phone sees B's phone over the link");
  });

  after(async () => {
    await Promise.all([A?.stop(), B?.stop()]);
    await cleanupAll();
  });

  it('64 MiB A-phone -> B-phone: B is SIGKILLed mid-pull, resumes from its bytes, the file arrives byte-identical', async () => {
    const file = testFile(64 * MiB);
    const { upload, done } = startUpload({
      base: A.base,
      auth: deviceAuth(A.base, phoneA.creds),
      to: [phoneB.deviceId],
      bytes: file.bytes,
    });
    const sent = await done;
    assert.equal(upload.ciphertextSize, 64 * MiB + 16 * 1024);

    // B pulls: wait until a fair part is there, then kill it hard.
    let before = 0;
    await eventually(
      async () => {
        const s = await status(B.base, phoneB, sent.blobId);
        before = s.body?.received ?? 0;
        return before > 16 * MiB && before < upload.ciphertextSize;
      },
      'B has pulled a part of the file',
      LINK_WAIT_MS,
    );
    await B.kill9();
    B = await startNodeProcess({ label: 'node B (restarted)', dataDir: B.dataDir, port: B.port });
    const kept = await status(B.base, phoneB, sent.blobId);
    assert.equal(kept.code, 200, 'B still knows the file after the restart');
    assert.ok((kept.body?.received ?? 0) >= 8 * MiB, `B kept the bytes it had (had ${before}, kept ${kept.body?.received})`);

    const seen: string[] = [];
    const got = await fetchFile(B.base, deviceAuth(B.base, phoneB.creds), sent, { onProgress: (p) => seen.push(p.phase) });
    assert.equal(got.size, file.bytes.length);
    assert.equal(got.sha256, file.sha256, 'SHA-256 of what arrived equals what was sent');

    // B has it whole and said so: A's copy is no longer needed there.
    await eventually(
      async () => (await status(A.base, phoneA, sent.blobId)).code === 404,
      'A removed its copy once B had it',
      LINK_WAIT_MS,
    );
    // B's phone tells B it has it all: B's copy goes too.
    assert.equal(await markReceived(B.base, phoneB.creds, sent.blobId), 200);
    await eventually(
      async () => (await status(B.base, phoneB, sent.blobId)).code === 404,
      "B removed its copy once B's phone had it",
      LINK_WAIT_MS,
    );
  });

  it('the sending desktop is SIGKILLed while B pulls: after its restart B goes on from its bytes, the file is byte-identical', async () => {
    const file = testFile(64 * MiB);
    const { done } = startUpload({ base: A.base, auth: deviceAuth(A.base, phoneA.creds), to: [phoneB.deviceId], bytes: file.bytes });
    const sent = await done;
    let before = 0;
    await eventually(
      async () => {
        const s = await status(B.base, phoneB, sent.blobId);
        before = s.body?.received ?? 0;
        return before > 16 * MiB && before < sent.size + 1024 * 16;
      },
      'B has pulled a part of the file',
      LINK_WAIT_MS,
    );
    await A.kill9();
    const kept = (await status(B.base, phoneB, sent.blobId)).body?.received ?? 0;
    A = await startNodeProcess({ label: 'node A (restarted)', dataDir: A.dataDir, port: A.port });
    const got = await fetchFile(B.base, deviceAuth(B.base, phoneB.creds), sent);
    assert.ok(kept >= before, 'B kept what it had pulled');
    assert.equal(got.sha256, file.sha256, 'SHA-256 of what arrived equals what was sent');
  });

  it('a file its sender cancels before B pulled it is dropped on B too (B frozen meanwhile, so the order is fixed)', async () => {
    const file = testFile(8 * MiB);
    const pid = B.proc.child.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const { done } = startUpload({ base: A.base, auth: deviceAuth(A.base, phoneA.creds), to: [phoneB.deviceId], bytes: file.bytes });
      const sent = await done;
      const path = `/api/files/${sent.blobId}`;
      const del = await fetch(A.base + path, {
        method: 'DELETE',
        headers: { ...deviceAuth(A.base, phoneA.creds).headers('DELETE', path), 'tus-resumable': '1.0.0' },
      });
      assert.equal(del.status, 204);
      assert.equal((await status(A.base, phoneA, sent.blobId)).code, 404);
      process.kill(pid, 'SIGCONT');
      // B reads the offer, then hears the blob is gone (or asks for bytes and is told so): nothing of it stays.
      await eventually(async () => (await status(B.base, phoneB, sent.blobId)).code === 404, 'B holds nothing of it', LINK_WAIT_MS);
      const r = await fetch(`${B.base}/api/files/${sent.blobId}`, {
        headers: deviceAuth(B.base, phoneB.creds).headers('GET', `/api/files/${sent.blobId}`),
      });
      assert.equal(r.status, 404);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
