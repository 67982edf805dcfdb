// Files between two devices of one desktop, with real processes: a 64 MiB file goes from one phone to another
// through the node, which is SIGKILLed in the middle of the upload and restarted on its data dir; the upload goes
// on from the bytes the node had (not from zero), and what the other phone downloads, decrypts and checks is the
// very file that was sent. Nothing here asserts speed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { cleanupAll, eventually, tempDir } from '../helpers/test-node.js';
import { deviceAuth, fetchFile, startUpload, testFile } from './file-helpers.js';
import { type NodeProcess, type PairedPhone, pairPhoneWith, requireBuild, startNodeProcess } from './processes.js';

const MiB = 1024 * 1024;

describe('files on one desktop (real processes)', { timeout: 600_000 }, () => {
  let A: NodeProcess;
  let phone: PairedPhone;
  let tablet: PairedPhone;

  before(async () => {
    requireBuild();
    A = await startNodeProcess({ label: 'node A' });
    phone = await pairPhoneWith(A, 'Anna phone');
    tablet = await pairPhoneWith(A, 'Anna tablet');
  });

  after(async () => {
    await A?.stop();
    await cleanupAll();
  });

  it('64 MiB phone -> tablet: the node is SIGKILLed mid-upload, the upload resumes from its offset, the tablet gets the same bytes', async () => {
    const file = testFile(64 * MiB);
    const seen: number[] = [];
    const { upload, done } = startUpload({
      base: A.base,
      auth: deviceAuth(A.base, phone.creds),
      to: [tablet.deviceId],
      bytes: file.bytes,
      requestBytes: 2 * MiB,
      retryDelays: Array.from({ length: 200 }, () => 250),
      onProgress: (p) => seen.push(p.done),
    });
    await eventually(() => seen.some((d) => d > 20 * MiB), 'a third of the upload sent');
    await A.kill9();
    const killedAt = seen.length;
    A = await startNodeProcess({ label: 'node A (restarted)', dataDir: A.dataDir, port: A.port });
    const sent = await done;
    const after = seen.slice(killedAt);
    assert.ok(after.length > 0, 'progress went on after the restart');
    assert.ok(
      Math.min(...after) > 8 * MiB,
      `resumed from the bytes the node kept, not from zero (first after restart: ${Math.min(...after)})`,
    );
    assert.equal(upload.ciphertextSize, 64 * MiB + 16 * 1024, 'one tag per 64 KiB chunk');

    const got = await fetchFile(A.base, deviceAuth(A.base, tablet.creds), sent);
    assert.equal(got.size, file.bytes.length);
    assert.equal(got.sha256, file.sha256, 'SHA-256 of what arrived equals what was sent');
  });

  it('the file limits are set at start (--files): a file over the maximum is a 413 naming it; a bad --files does not start', async () => {
    const small = await startNodeProcess({ label: 'node with small files', args: ['--files', JSON.stringify({ maxFileBytes: 1000 })] });
    try {
      const p = await pairPhoneWith(small, 'Small phone');
      const t = await pairPhoneWith(small, 'Small tablet');
      const auth = deviceAuth(small.base, p.creds);
      const r = await fetch(`${small.base}/api/files`, {
        method: 'POST',
        headers: {
          ...auth.headers('POST', '/api/files'),
          'tus-resumable': '1.0.0',
          'upload-length': '2000',
          'upload-metadata': `to ${Buffer.from(t.deviceId).toString('base64')}`,
        },
      });
      const body = (await r.json()) as { error: string; max_bytes?: number };
      assert.equal(r.status, 413);
      assert.equal(body.error, 'file_too_large');
      assert.equal(body.max_bytes, 1000);
    } finally {
      await small.stop();
    }
    const bad = spawnSync(process.execPath, ['out/main/headless.js', '--files', '{"maxFileByte":5}', '--data-dir', tempDir()], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown limit "maxFileByte"/);
  });
});
