// Attacks on the node's file routes, with raw tus requests (the bytes need not be real ciphertext for the node:
// it never reads them). Each test tries one thing a stranger, another device or a lying client could do and
// checks the node refuses it with a clear 4xx and keeps nothing that looks complete.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DeviceClient } from '../../src/shared/client/device-client.js';
import { cleanupAll, eventually, pairPhone, startTestNode, type TestNode } from '../helpers/test-node.js';

const MiB = 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Dev {
  id: string;
  client: DeviceClient;
}

describe('attacks on the file routes', () => {
  let node: TestNode;
  let alice: Dev;
  let bob: Dev;
  let mallory: Dev;
  let freeBytes = Number.MAX_SAFE_INTEGER;

  const pair = async (): Promise<Dev> => {
    const p = await pairPhone(node);
    return { id: p.phone.identity.node_id, client: p.client };
  };

  /** A signed tus request as `dev`; a body is signed by its digest (X-Content-SHA256), or by `claim` when given. */
  const tus = async (
    dev: Dev | undefined,
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Uint8Array,
    claim?: string,
  ) => {
    const digest = body ? (claim ?? sha(body)) : undefined;
    const auth = dev ? dev.client.signedHeaders(method, path, digest) : {};
    const res = await fetch(node.base + path, {
      method,
      headers: {
        'tus-resumable': '1.0.0',
        ...auth,
        ...(digest ? { 'x-content-sha256': digest, 'content-type': 'application/offset+octet-stream' } : {}),
        ...headers,
      },
      ...(body ? { body: body as BodyInit } : {}),
    });
    const text = await res.text();
    let json: { error?: string; received?: number } = {};
    try {
      json = JSON.parse(text);
    } catch {
      /* a tus success has no body */
    }
    return { status: res.status, headers: res.headers, json, text };
  };

  const create = async (dev: Dev, size: number, to: string[]) => {
    const r = await tus(dev, 'POST', '/api/files', { 'upload-length': String(size), 'upload-metadata': `to ${b64(to.join(','))}` });
    assert.equal(r.status, 201, r.text);
    return r.headers.get('location')!.split('/').pop()!;
  };
  const offsetOf = async (dev: Dev, id: string) => Number((await tus(dev, 'HEAD', `/api/files/${id}`)).headers.get('upload-offset'));

  before(async () => {
    node = await startTestNode({ files: { deviceQuotaBytes: 8 * MiB, maxFileBytes: 6 * MiB }, freeBytes: () => freeBytes });
    alice = await pair();
    bob = await pair();
    mallory = await pair();
  });
  after(cleanupAll);

  it('a blob id is 16 random bytes (base64url), nothing of the file, the sender or the time', async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, () => create(alice, 10, [bob.id])));
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.equal((await tus(alice, 'DELETE', `/api/files/${id}`)).status, 204);
  });

  it('without a valid signature nothing is uploaded or read (401); the signature covers the declared digest', async () => {
    assert.equal(
      (await tus(undefined, 'POST', '/api/files', { 'upload-length': '10', 'upload-metadata': `to ${b64(bob.id)}` })).status,
      401,
    );
    const id = await create(alice, 10, [bob.id]);
    const bytes = randomBytes(10);
    // The signature names one digest, the header another: refused before a byte is read.
    const auth = alice.client.signedHeaders('PATCH', `/api/files/${id}`, sha(randomBytes(10)));
    const forged = await fetch(`${node.base}/api/files/${id}`, {
      method: 'PATCH',
      headers: {
        ...auth,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'x-content-sha256': sha(bytes),
      },
      body: bytes as BodyInit,
    });
    assert.equal(forged.status, 401);
    assert.equal(await offsetOf(alice, id), 0);
    assert.equal((await fetch(`${node.base}/api/files/${id}`)).status, 401, 'a download without a signature');
    await tus(alice, 'DELETE', `/api/files/${id}`);
  });

  it('bytes that do not hash to the signed digest are cut off again (400 body_digest_mismatch): the offset stays where it was', async () => {
    const id = await create(alice, 2 * MiB, [bob.id]);
    const first = randomBytes(MiB);
    assert.equal((await tus(alice, 'PATCH', `/api/files/${id}`, { 'upload-offset': '0' }, first)).status, 204);
    const second = randomBytes(MiB);
    const r = await tus(alice, 'PATCH', `/api/files/${id}`, { 'upload-offset': String(MiB) }, second, sha(randomBytes(MiB)));
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'body_digest_mismatch');
    assert.equal(await offsetOf(alice, id), MiB, 'the altered bytes do not count');
    const status = await alice.client.request('GET', `/api/files/${id}/status`);
    assert.deepEqual(status.body, { id, size: 2 * MiB, received: MiB, complete: false });
    assert.equal((await tus(alice, 'PATCH', `/api/files/${id}`, { 'upload-offset': String(MiB) }, second)).status, 204);
    assert.equal((await alice.client.request('GET', `/api/files/${id}/status`)).body.complete, true);
    await tus(alice, 'DELETE', `/api/files/${id}`);
  });

  it('a finished blob is recorded with the SHA-256 of exactly the bytes it kept, whatever was refused on the way', async () => {
    const id = await create(alice, 3 * MiB, [bob.id]);
    const parts = [randomBytes(MiB), randomBytes(MiB), randomBytes(MiB)];
    const patch = (i: number, claim?: string) =>
      tus(alice, 'PATCH', `/api/files/${id}`, { 'upload-offset': String(i * MiB) }, parts[i], claim);
    assert.equal((await patch(0)).status, 204);
    assert.equal((await patch(1, sha(randomBytes(MiB)))).status, 400, 'a lie in the middle');
    assert.equal((await patch(1)).status, 204);
    const last = await patch(2, sha(randomBytes(MiB)));
    assert.equal(last.status, 400, 'a lie in the last request');
    assert.equal(last.json.error, 'body_digest_mismatch');
    assert.equal(
      (await alice.client.request('GET', `/api/files/${id}/status`)).body.complete,
      false,
      'a lying last request completes nothing',
    );
    assert.equal((await patch(2)).status, 204);
    assert.equal((await alice.client.request('GET', `/api/files/${id}/status`)).body.complete, true);
    const want = sha(Buffer.concat(parts));
    assert.equal(sha(readFileSync(join(node.dataDir, 'files', id))), want, 'the bytes on disk');
    assert.equal(node.core.files.store.get(id)?.ciphertextSha256, want, 'the digest the node offers the blob under');
    await tus(alice, 'DELETE', `/api/files/${id}`);
  });

  it('an upload past its declared length is cut with a 4xx and the file is never longer than declared', async () => {
    const id = await create(alice, 1000, [bob.id]);
    const r = await tus(alice, 'PATCH', `/api/files/${id}`, { 'upload-offset': '0' }, randomBytes(1500));
    assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
    assert.ok(r.json.error, 'a JSON refusal');
    assert.ok((await offsetOf(alice, id)) <= 1000);
    const st = (await alice.client.request('GET', `/api/files/${id}/status`)).body;
    assert.equal(st.complete, false, 'nothing looks complete');
    await tus(alice, 'DELETE', `/api/files/${id}`);
  });

  it('over the maximum size (413 file_too_large), over the quota (413 quota_exceeded), a full disk (507 insufficient_storage)', async () => {
    const big = await tus(alice, 'POST', '/api/files', { 'upload-length': String(7 * MiB), 'upload-metadata': `to ${b64(bob.id)}` });
    assert.equal(big.status, 413);
    assert.equal(big.json.error, 'file_too_large');
    const a = await create(alice, 5 * MiB, [bob.id]);
    const over = await tus(alice, 'POST', '/api/files', { 'upload-length': String(4 * MiB), 'upload-metadata': `to ${b64(bob.id)}` });
    assert.equal(over.status, 413, over.text);
    assert.equal(over.json.error, 'quota_exceeded');
    freeBytes = 100 * MiB;
    const full = await tus(bob, 'POST', '/api/files', { 'upload-length': String(MiB), 'upload-metadata': `to ${b64(alice.id)}` });
    assert.equal(full.status, 507, full.text);
    assert.equal(full.json.error, 'insufficient_storage');
    freeBytes = Number.MAX_SAFE_INTEGER;
    await tus(alice, 'DELETE', `/api/files/${a}`);
  });

  it('recipients must be real: unknown devices are refused (400 unknown_recipient), a missing list is a 400', async () => {
    const r = await tus(alice, 'POST', '/api/files', { 'upload-length': '10', 'upload-metadata': `to ${b64('nobody-at-all')}` });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'unknown_recipient');
    const none = await tus(alice, 'POST', '/api/files', { 'upload-length': '10' });
    assert.equal(none.status, 400);
    assert.equal(none.json.error, 'invalid_request');
  });

  it('a tus extension the node does not offer (Upload-Concat) is a 400 with a JSON body, never a 5xx', async () => {
    const r = await tus(alice, 'POST', '/api/files', {
      'upload-length': '10',
      'upload-concat': 'partial',
      'upload-metadata': `to ${b64(bob.id)}`,
    });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.error, 'invalid_request');
  });

  it('another device can neither read, extend, cancel nor claim a blob (403), and a stranger id is a 404', async () => {
    const id = await create(alice, 64, [bob.id]);
    const bytes = randomBytes(64);
    assert.equal((await tus(mallory, 'PATCH', `/api/files/${id}`, { 'upload-offset': '0' }, bytes)).status, 403, 'extend');
    assert.equal((await tus(mallory, 'HEAD', `/api/files/${id}`)).status, 403, 'offset');
    assert.equal((await tus(bob, 'DELETE', `/api/files/${id}`)).status, 403, 'a recipient cannot cancel either');
    assert.equal((await tus(alice, 'PATCH', `/api/files/${id}`, { 'upload-offset': '0' }, bytes)).status, 204);
    const dl = (dev: Dev) => fetch(`${node.base}/api/files/${id}`, { headers: dev.client.signedHeaders('GET', `/api/files/${id}`) });
    assert.equal((await dl(mallory)).status, 403, 'download');
    assert.equal((await mallory.client.request('GET', `/api/files/${id}/status`)).status, 403, 'status');
    assert.equal((await mallory.client.request('POST', `/api/files/${id}/received`)).status, 403, 'received');
    const mine = await dl(bob);
    assert.equal(mine.status, 200);
    assert.deepEqual(new Uint8Array(await mine.arrayBuffer()), new Uint8Array(bytes));
    const ranged = await fetch(`${node.base}/api/files/${id}`, {
      headers: { ...bob.client.signedHeaders('GET', `/api/files/${id}`), range: 'bytes=10-' },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), 'bytes 10-63/64');
    assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), new Uint8Array(bytes.subarray(10)));
    const stranger = 'AAAAAAAAAAAAAAAAAAAAAA';
    const r = await fetch(`${node.base}/api/files/${stranger}`, { headers: bob.client.signedHeaders('GET', `/api/files/${stranger}`) });
    assert.equal(r.status, 404);
    // The recipient says it has it: nobody else needs it, so the node lets it go.
    assert.equal((await bob.client.request('POST', `/api/files/${id}/received`)).status, 200);
    assert.equal(existsSync(join(node.dataDir, 'files', id)), false, 'the bytes are gone');
  });

  it('a partial upload expires: bytes and rows go, and its URL answers 404 from then on', async () => {
    const short = await startTestNode({ files: { partialTtlMs: 1, sweepIntervalMs: 50 } });
    const p = await pairPhone(short);
    const q = await pairPhone(short);
    const sender = { id: p.phone.identity.node_id, client: p.client };
    const path = '/api/files';
    const r = await fetch(short.base + path, {
      method: 'POST',
      headers: {
        ...sender.client.signedHeaders('POST', path),
        'tus-resumable': '1.0.0',
        'upload-length': '100',
        'upload-metadata': `to ${b64(q.phone.identity.node_id)}`,
      },
    });
    assert.equal(r.status, 201);
    const id = r.headers.get('location')!.split('/').pop()!;
    await eventually(() => !existsSync(join(short.dataDir, 'files', id)), 'the partial upload removed');
    assert.equal((await sender.client.request('GET', `/api/files/${id}/status`)).status, 404);
  });

  it('a partial blob is not downloadable (409 blob_not_ready with how far it is)', async () => {
    const id = await create(alice, 100, [bob.id]);
    await tus(alice, 'PATCH', `/api/files/${id}`, { 'upload-offset': '0' }, randomBytes(40));
    const r = await fetch(`${node.base}/api/files/${id}`, { headers: bob.client.signedHeaders('GET', `/api/files/${id}`) });
    assert.equal(r.status, 409);
    assert.deepEqual(await r.json(), {
      error: 'blob_not_ready',
      message: 'The file is still on its way to this node.',
      received: 40,
      size: 100,
    });
    assert.equal(statSync(join(node.dataDir, 'files', id)).size, 40);
    await tus(alice, 'DELETE', `/api/files/${id}`);
    assert.equal(existsSync(join(node.dataDir, 'files', id)), false);
  });
});
