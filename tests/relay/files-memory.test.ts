// The node streams files, never holds one whole: a 1 GiB blob uploaded by one device (tus, signed PATCHes of
// 64 MiB) and downloaded by another must not raise the peak memory (VmHWM) of the node's process by 64 MiB over
// what it used before. The built node runs as its own process, so the test's buffers do not count; the bytes are
// made on the fly (a random MiB with its index in front), never held whole by the test either. The node sees
// only ciphertext, so these bytes stand for one. SALITA_FILE_MEMORY_MIB sets the size (default 1024).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { bytesAt, memory } from '../helpers/made-up-bytes.js';
import { cleanupAll } from '../helpers/test-node.js';
import { deviceAuth } from './file-helpers.js';
import { type NodeProcess, type PairedPhone, pairPhoneWith, requireBuild, startNodeProcess } from './processes.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.SALITA_FILE_MEMORY_MIB ?? 1024) * MiB;
const PIECE = 64 * MiB;

describe('files on a node: streaming only', { skip: process.platform !== 'linux' && 'reads /proc', timeout: 600_000 }, () => {
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

  /** Uploads `size` made-up bytes as `phone`; the blob id. */
  async function send(size: number): Promise<{ id: string; sha256: string }> {
    const auth = deviceAuth(A.base, phone.creds);
    const to = Buffer.from(tablet.deviceId).toString('base64');
    const create = await fetch(`${A.base}/api/files`, {
      method: 'POST',
      headers: {
        ...auth.headers('POST', '/api/files'),
        'tus-resumable': '1.0.0',
        'upload-length': String(size),
        'upload-metadata': `to ${to}`,
      },
    });
    assert.equal(create.status, 201, await create.text());
    const path = new URL(create.headers.get('location')!, A.base).pathname;
    const whole = createHash('sha256');
    for (let at = 0; at < size; at += PIECE) {
      const body = bytesAt(at, Math.min(size, at + PIECE));
      whole.update(body);
      const digest = createHash('sha256').update(body).digest('hex');
      const r = await fetch(A.base + path, {
        method: 'PATCH',
        headers: {
          ...auth.headers('PATCH', path, digest),
          'tus-resumable': '1.0.0',
          'upload-offset': String(at),
          'content-type': 'application/offset+octet-stream',
          'x-content-sha256': digest,
        },
        body: body as unknown as BodyInit,
      });
      assert.equal(r.status, 204, await r.text());
    }
    return { id: path.split('/').pop()!, sha256: whole.digest('hex') };
  }

  async function fetchBack(id: string): Promise<{ sha256: string; n: number }> {
    const path = `/api/files/${id}`;
    const res = await fetch(A.base + path, { headers: deviceAuth(A.base, tablet.creds).headers('GET', path) });
    assert.equal(res.status, 200);
    const h = createHash('sha256');
    let n = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      h.update(c);
      n += c.length;
    }
    return { sha256: h.digest('hex'), n };
  }

  it(`a ${SIZE / MiB} MiB file through the node raises its peak memory by less than 64 MiB`, async () => {
    // Warm up every path once (modules, the tus server, the statements), then measure.
    const small = await send(4 * MiB);
    assert.equal((await fetchBack(small.id)).sha256, small.sha256);
    const pid = A.proc.child.pid!;
    // Start the peak (VmHWM) from now, so that it shows the transfer and not the start-up.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const before = memory(pid);
    const big = await send(SIZE);
    const back = await fetchBack(big.id);
    const afterAll = memory(pid);
    assert.equal(back.n, SIZE);
    assert.equal(back.sha256, big.sha256);
    const grew = afterAll.peak - before.rss;
    assert.ok(grew < 64 * MiB, `the node's peak RSS grew by ${(grew / MiB).toFixed(1)} MiB (from ${(before.rss / MiB).toFixed(1)} MiB)`);
  });
});
