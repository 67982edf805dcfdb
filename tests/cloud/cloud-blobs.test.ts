// The cloud's blob store (docs/cloud.md "Blobs") through the node's client (src/main/core/cloud/cloud-blobs.ts)
// and raw tus requests: startCloud on loopback port 0, nodes logged in with the plain OTP flow. The bytes need not
// be real ciphertext: the cloud never reads them beyond their SHA-256. No timing assertions: every wait is for an
// answer, a frame, or a sweep the test runs itself.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blobLimitsFromEnv } from '../../src/cloud/blob-store.js';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { CloudOptions, RunningCloud } from '../../src/cloud/server.js';
import type { CloudCallError } from '../../src/main/core/cloud/cloud-api.js';
import { CloudBlobs } from '../../src/main/core/cloud/cloud-blobs.js';
import { startTestCloud } from '../helpers/test-cloud.js';
import { APPEND, type BlobTestNode, createUpload, loginNode, MiB, RelayListener, request, sha256Hex, TUS } from './blob-helpers.js';

const dirs: string[] = [];
const clouds: RunningCloud[] = [];
after(async () => {
  for (const c of clouds) await c.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function cloudWith(opts: Partial<CloudOptions> = {}): Promise<{ cloud: RunningCloud; otp: MemoryOtpSender; dir: string }> {
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'salita-cloud-blobs-'));
  if (!dirs.includes(dir)) dirs.push(dir);
  const otp = new MemoryOtpSender();
  const cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, ...opts });
  clouds.push(cloud);
  return { cloud, otp, dir };
}

const client = (cloud: RunningCloud, node: BlobTestNode) => new CloudBlobs(cloud.url, async () => node.token);
const reader =
  (bytes: Uint8Array, starts: number[] = []) =>
  async (start: number, end: number) => {
    starts.push(start);
    return bytes.subarray(start, end);
  };
async function readAll(stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of stream as AsyncIterable<Uint8Array>) parts.push(c);
  return Buffer.concat(parts);
}
const filesIn = (dir: string) => ({
  uploads: readdirSync(join(dir, 'blobs', 'uploads')),
  complete: readdirSync(join(dir, 'blobs', 'complete')),
});
const codeOf = async (p: Promise<unknown>): Promise<{ code: string; status: number }> => {
  try {
    await p;
  } catch (err) {
    const e = err as CloudCallError;
    return { code: e.cloudError, status: e.status };
  }
  assert.fail('expected a refusal');
};

describe('cloud blobs: upload, resume, list, ranged download, received', () => {
  let cloud: RunningCloud;
  let otp: MemoryOtpSender;
  let dir: string;
  let alice: BlobTestNode;
  let bob: BlobTestNode;
  let carol: BlobTestNode;
  let mallory: BlobTestNode;
  before(async () => {
    ({ cloud, otp, dir } = await cloudWith());
    [alice, bob, carol, mallory] = [
      await loginNode(cloud, otp),
      await loginNode(cloud, otp),
      await loginNode(cloud, otp),
      await loginNode(cloud, otp),
    ];
  });

  it('8 MiB: stopped mid-upload, resumed from the stored URL by a new client at a nonzero offset, listed, fetched with a Range resume, received, gone', async () => {
    const bytes = randomBytes(8 * MiB);
    const sha256 = sha256Hex(bytes);
    const to = { [bob.id]: ['bob-phone', 'bob-laptop'], [carol.id]: ['carol-phone'] };
    let stored: string | undefined;
    const stop = new AbortController();
    const first = await codeOf(
      client(cloud, alice).upload({
        sha256,
        size: bytes.length,
        to,
        ref: 'alice-blob-1',
        from: 'alice-phone',
        read: reader(bytes),
        chunkSize: MiB,
        onUploadUrl: (url) => {
          stored = url;
        },
        onProgress: (sent) => {
          if (sent >= 3 * MiB) stop.abort();
        },
        signal: stop.signal,
      }),
    );
    assert.equal(first.code, 'aborted');
    assert.ok(stored, 'the upload URL was handed out');
    assert.match(new URL(stored).pathname, /^\/api\/blobs\/uploads\/[A-Za-z0-9_-]{22}$/);
    const head = await request(cloud, alice, 'HEAD', new URL(stored).pathname, TUS);
    const offset = Number(head.headers.get('upload-offset'));
    assert.ok(offset > 0 && offset < bytes.length, `the cloud holds part of it (${offset})`);
    assert.deepEqual((await client(cloud, bob).incoming()).length, 0, 'nothing listed while it is partial');

    // "After a restart": a new client with only the stored URL.
    const starts: number[] = [];
    await client(cloud, alice).upload({
      sha256,
      size: bytes.length,
      to,
      ref: 'alice-blob-1',
      from: 'alice-phone',
      read: reader(bytes, starts),
      chunkSize: MiB,
      uploadUrl: stored,
    });
    assert.equal(starts[0], offset, 'the resumed upload read on from where the cloud was');
    assert.deepEqual(filesIn(dir), { uploads: [], complete: [sha256] });

    const listed = await client(cloud, bob).incoming();
    assert.deepEqual(listed, [
      {
        sha256,
        size: bytes.length,
        ref: 'alice-blob-1',
        from_node: alice.id,
        from_device: 'alice-phone',
        devices: ['bob-phone', 'bob-laptop'],
      },
    ]);
    assert.deepEqual(
      (await client(cloud, carol).incoming()).map((b) => b.devices),
      [['carol-phone']],
      'each node sees its own devices only',
    );
    assert.deepEqual(await client(cloud, alice).incoming(), [], 'the sender is no recipient');

    // Bob's download breaks off after a few MiB and goes on with a Range.
    const parts: Buffer[] = [];
    let got = 0;
    const stream = (await client(cloud, bob).download(sha256, 0)) as ReadableStream<Uint8Array>;
    const r = stream.getReader();
    while (got < 2 * MiB) {
      const { value, done } = await r.read();
      assert.ok(!done);
      parts.push(Buffer.from(value));
      got += value.length;
    }
    await r.cancel();
    parts.push(await readAll(await client(cloud, bob).download(sha256, got)));
    const whole = Buffer.concat(parts);
    assert.equal(whole.length, bytes.length);
    assert.equal(sha256Hex(whole), sha256);
    // A raw Range answers 206 with its Content-Range.
    const ranged = await fetch(`${cloud.url}/api/blobs/${sha256}`, {
      headers: { authorization: `Noise ${bob.token}`, range: 'bytes=100-199' },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(100, 200)));
    const beyond = await request(cloud, bob, 'GET', `/api/blobs/${sha256}`, { range: `bytes=${bytes.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.json.error, 'invalid_request');
    assert.equal(beyond.headers.get('content-range'), `bytes */${bytes.length}`);
    assert.equal((await readAll(await client(cloud, bob).download(sha256, bytes.length))).length, 0, 'from the end: nothing more');
    // The uploader may read it back too.
    assert.equal(sha256Hex(await readAll(await client(cloud, alice).download(sha256))), sha256);

    await client(cloud, bob).received(sha256);
    assert.deepEqual(await client(cloud, bob).incoming(), [], 'received: no longer listed for bob');
    assert.deepEqual(filesIn(dir).complete, [sha256], 'carol has not got it yet');
    assert.equal(sha256Hex(await readAll(await client(cloud, carol).download(sha256))), sha256);
    await client(cloud, carol).received(sha256);
    assert.deepEqual(filesIn(dir), { uploads: [], complete: [] }, 'every recipient has it: the bytes are gone');
    assert.deepEqual(await codeOf(client(cloud, bob).download(sha256)), { code: 'blob_unknown', status: 404 });
    // The sender's HEAD on its old upload still says "all there" (its last answer might have been lost).
    const done = await request(cloud, alice, 'HEAD', new URL(stored).pathname, TUS);
    assert.equal(done.status, 200);
    assert.equal(done.headers.get('upload-offset'), String(bytes.length));
  });

  it('content addressing: identical ciphertext is stored once, and offered to more recipients without its bytes', async () => {
    const bytes = randomBytes(300_000);
    const sha256 = sha256Hex(bytes);
    const alices = client(cloud, alice);
    assert.equal(await alices.offer(sha256, { [bob.id]: ['bob-phone'] }, 'a-2', 'alice-phone'), false, 'unknown: upload it');
    await alices.upload({
      sha256,
      size: bytes.length,
      to: { [bob.id]: ['bob-phone'] },
      ref: 'a-2',
      from: 'alice-phone',
      read: reader(bytes),
    });
    // Another sender with the same bytes: one offer, no upload.
    assert.equal(await client(cloud, carol).offer(sha256, { [bob.id]: ['bob-laptop'] }, 'c-9', 'carol-phone'), true);
    assert.equal(await alices.offer(sha256, { [carol.id]: ['carol-phone'] }, 'a-2', 'alice-phone'), true);
    const bobs = await client(cloud, bob).incoming();
    assert.deepEqual(
      bobs.map((b) => [b.sha256, b.from_node, b.ref, b.devices]),
      [
        [sha256, alice.id, 'a-2', ['bob-phone']],
        [sha256, carol.id, 'c-9', ['bob-laptop']],
      ],
    );
    assert.deepEqual(
      (await client(cloud, carol).incoming()).map((b) => b.ref),
      ['a-2'],
    );
    // The same bytes uploaded again (a sender that did not offer first) still make one file.
    await client(cloud, mallory).upload({
      sha256,
      size: bytes.length,
      to: { [carol.id]: ['carol-tablet'] },
      ref: 'm-1',
      from: 'mallory-phone',
      read: reader(bytes),
    });
    assert.deepEqual(filesIn(dir).complete, [sha256]);
    assert.deepEqual(filesIn(dir).uploads, []);
    // An offer of a blob that is not there is a 404 on the wire.
    const raw = await request(
      cloud,
      alice,
      'PUT',
      `/api/blobs/${'0'.repeat(64)}/recipients`,
      { 'content-type': 'application/json' },
      JSON.stringify({ to: { [bob.id]: ['x-1'] }, ref: 'r', from: 'alice-phone' }),
    );
    assert.equal(raw.status, 404);
    assert.equal(raw.json.error, 'blob_unknown');
    await client(cloud, bob).received(sha256);
    await client(cloud, carol).received(sha256);
    assert.deepEqual(filesIn(dir).complete, []);
  });

  it('the recipient node on the relay hears blob_ready when a blob completes and when it is offered to it', async () => {
    const relay = await RelayListener.connect(cloud, carol);
    try {
      const bytes = randomBytes(70_000);
      const sha256 = sha256Hex(bytes);
      await client(cloud, alice).upload({
        sha256,
        size: bytes.length,
        to: { [carol.id]: ['carol-phone'] },
        ref: 'push-1',
        from: 'alice-phone',
        read: reader(bytes),
      });
      assert.deepEqual(await relay.waitFor((f) => f.type === 'blob_ready'), { type: 'blob_ready', sha256 });
      await client(cloud, carol).received(sha256);

      const other = randomBytes(5000);
      const sha2 = sha256Hex(other);
      await client(cloud, alice).upload({
        sha256: sha2,
        size: other.length,
        to: { [bob.id]: ['bob-phone'] },
        ref: 'push-2',
        from: 'alice-phone',
        read: reader(other),
      });
      assert.equal(await client(cloud, alice).offer(sha2, { [carol.id]: ['carol-phone'] }, 'push-2', 'alice-phone'), true);
      await relay.waitFor((f) => f.type === 'blob_ready' && f.sha256 === sha2);
      assert.ok(!relay.frames.some((f) => f.type === 'error'), 'nothing else went wrong on the socket');
      await client(cloud, carol).received(sha2);
      await client(cloud, bob).received(sha2);
    } finally {
      relay.close();
    }
  });

  it('attacks: no token 401, a stranger node 403, someone else’s upload 403, bad metadata 400; tus’s own refusals are JSON', async () => {
    const bytes = randomBytes(10_000);
    const sha256 = sha256Hex(bytes);
    await client(cloud, alice).upload({
      sha256,
      size: bytes.length,
      to: { [bob.id]: ['bob-phone'] },
      ref: 'atk',
      from: 'alice-phone',
      read: reader(bytes),
    });
    const up = await createUpload(cloud, alice, { size: 1000, sha256: sha256Hex(randomBytes(1000)), to: { [bob.id]: ['bob-phone'] } });
    assert.equal(up.status, 201, up.text);
    const path = up.path!;

    for (const [method, p, headers] of [
      ['POST', '/api/blobs', { ...TUS, 'upload-length': '10' }],
      ['GET', '/api/blobs/incoming', {}],
      ['GET', `/api/blobs/${sha256}`, {}],
      ['PUT', `/api/blobs/${sha256}/recipients`, { 'content-type': 'application/json' }],
      ['POST', `/api/blobs/${sha256}/received`, {}],
      ['PATCH', path, { ...APPEND, 'upload-offset': '0' }],
      ['DELETE', path, TUS],
    ] as const) {
      const r = await request(cloud, undefined, method, p, headers, method === 'PUT' ? '{}' : method === 'PATCH' ? 'x' : undefined);
      assert.equal(r.status, 401, `${method} ${p}: ${r.text}`);
      assert.equal(r.json.error, 'token_missing');
    }
    assert.equal((await request(cloud, undefined, 'HEAD', path, TUS)).status, 401);
    assert.equal((await request(cloud, { id: 'x', token: 'A'.repeat(43) }, 'GET', `/api/blobs/${sha256}`)).json.error, 'token_invalid');

    // A node that is neither the uploader nor a recipient.
    const dl = await request(cloud, mallory, 'GET', `/api/blobs/${sha256}`);
    assert.equal(dl.status, 403);
    assert.equal(dl.json.error, 'forbidden');
    const rc = await request(cloud, mallory, 'POST', `/api/blobs/${sha256}/received`);
    assert.equal(rc.status, 403);
    assert.equal(rc.json.error, 'forbidden');
    assert.deepEqual(
      (await client(cloud, bob).incoming()).map((b) => b.sha256),
      [sha256],
      'a stranger cannot mark it received',
    );
    assert.equal((await request(cloud, alice, 'POST', `/api/blobs/${sha256}/received`)).status, 403, 'nor can the sender');

    // Another node may not see, extend or cancel alice's upload.
    const patch = await request(cloud, mallory, 'PATCH', path, { ...APPEND, 'upload-offset': '0' }, randomBytes(500));
    assert.equal(patch.status, 403, patch.text);
    assert.equal(patch.json.error, 'forbidden');
    assert.equal((await request(cloud, mallory, 'HEAD', path, TUS)).status, 403);
    assert.equal((await request(cloud, mallory, 'DELETE', path, TUS)).status, 403);
    const head = await request(cloud, alice, 'HEAD', path, TUS);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('upload-offset'), '0', 'nothing of mallory’s went in');
    assert.equal((await request(cloud, alice, 'DELETE', path, TUS)).status, 204);
    assert.equal((await request(cloud, alice, 'HEAD', path, TUS)).status, 404, 'cancelled');
    assert.equal((await request(cloud, alice, 'HEAD', '/api/blobs/uploads/..%2F..%2Fcloud.db', TUS)).status, 404);

    // Metadata that is not what the contract says.
    const good = { size: 10, sha256: sha256Hex(randomBytes(10)), to: { [bob.id]: ['bob-phone'] } };
    for (const [what, o] of [
      ['a short sha256', { ...good, sha256: 'abc' }],
      ['an uppercase sha256', { ...good, sha256: good.sha256.toUpperCase() }],
      ['no recipients', { ...good, to: {} }],
      ['a recipient that is no node id', { ...good, to: { 'not-a-node': ['bob-phone'] } }],
      ['a node without devices', { ...good, to: { [bob.id]: [] } }],
      [
        '33 devices',
        {
          ...good,
          to: {
            [bob.id]: Array.from({ length: 20 }, (_, i) => `bob-${i}`),
            [carol.id]: Array.from({ length: 13 }, (_, i) => `carol-${i}`),
          },
        },
      ],
      ['a bad ref', { ...good, ref: 'has space' }],
      ['a bad sender device', { ...good, from: '!' }],
    ] satisfies [string, Parameters<typeof createUpload>[2]][]) {
      const r = await createUpload(cloud, alice, o);
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.equal(r.json.error, 'invalid_request', what);
    }
    const notJson = await request(cloud, alice, 'POST', '/api/blobs', {
      ...TUS,
      'upload-length': '10',
      'upload-metadata': `sha256 ${Buffer.from(good.sha256).toString('base64')},to ${Buffer.from('{').toString('base64')},ref cg==,from ZGV2aWNlLTE=`,
    });
    assert.equal(notJson.json.error, 'invalid_request');
    const deferred = await request(cloud, alice, 'POST', '/api/blobs', { ...TUS, 'upload-defer-length': '1' });
    assert.equal(deferred.status, 400);
    // tus's own text refusals leave as JSON too.
    const noTus = await request(cloud, alice, 'POST', '/api/blobs', { 'upload-length': '10' });
    assert.equal(noTus.status, 412);
    assert.equal(noTus.headers.get('content-type'), 'application/json');
    assert.equal(noTus.json.error, 'invalid_request');
    assert.equal(typeof noTus.json.message, 'string');
    const concat = await request(cloud, alice, 'POST', '/api/blobs', { ...TUS, 'upload-concat': 'partial', 'upload-length': '10' });
    assert.equal(concat.status, 400, concat.text);
    assert.equal(concat.json.error, 'invalid_request');
    await client(cloud, bob).received(sha256);
  });

  it('bytes that do not hash to the declared sha256: 400 blob_digest_mismatch at the last byte, nothing kept, nothing listed', async () => {
    const bytes = randomBytes(2 * MiB);
    const lie = sha256Hex(randomBytes(32));
    let url: string | undefined;
    const r = await codeOf(
      client(cloud, alice).upload({
        sha256: lie,
        size: bytes.length,
        to: { [bob.id]: ['bob-phone'] },
        ref: 'lie',
        from: 'alice-phone',
        read: reader(bytes),
        chunkSize: MiB,
        onUploadUrl: (u) => (url = u),
      }),
    );
    assert.deepEqual(r, { code: 'blob_digest_mismatch', status: 400 });
    assert.deepEqual(await client(cloud, bob).incoming(), []);
    assert.deepEqual(filesIn(dir), { uploads: [], complete: [] });
    assert.equal((await request(cloud, alice, 'HEAD', new URL(url!).pathname, TUS)).status, 404, 'the upload is gone, not "complete"');
    assert.equal((await request(cloud, alice, 'GET', `/api/blobs/${lie}`)).status, 404);
    // Its true digest names nothing either.
    assert.equal(await client(cloud, alice).offer(sha256Hex(bytes), { [bob.id]: ['bob-phone'] }, 'lie', 'alice-phone'), false);
  });

  it('an upload past its Upload-Length is refused with a JSON 413 and never looks complete', async () => {
    const bytes = randomBytes(1000);
    const up = await createUpload(cloud, alice, { size: 1000, sha256: sha256Hex(bytes), to: { [bob.id]: ['bob-phone'] } });
    const over = await request(cloud, alice, 'PATCH', up.path!, { ...APPEND, 'upload-offset': '0' }, randomBytes(1500));
    assert.equal(over.status, 413, over.text);
    assert.equal(over.json.error, 'file_too_large');
    const head = await request(cloud, alice, 'HEAD', up.path!, TUS);
    assert.equal(head.headers.get('upload-offset'), '0', 'refused before a byte was written');
    // Chunked (no Content-Length): tus stops at the declared length, the cloud checks what it has, finds it wrong.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(randomBytes(600));
        c.enqueue(randomBytes(600));
        c.close();
      },
    });
    const chunked = await fetch(cloud.url + up.path!, {
      method: 'PATCH',
      headers: { authorization: `Noise ${alice.token}`, ...APPEND, 'upload-offset': '0' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.ok(chunked.status >= 400 && chunked.status < 500, `${chunked.status}`);
    assert.equal(((await chunked.json()) as { error: string }).error.length > 0, true);
    const after = await request(cloud, alice, 'HEAD', up.path!, TUS);
    assert.ok(after.status === 404 || Number(after.headers.get('upload-offset')) <= 1000, 'never longer than declared');
    assert.deepEqual(await client(cloud, bob).incoming(), [], 'nothing that looks complete');
    assert.deepEqual(filesIn(dir).complete, []);
    if (after.status === 200) await request(cloud, alice, 'DELETE', up.path!, TUS);
  });

  it('a bad Range is 416; an unknown or malformed blob name 404 blob_unknown', async () => {
    const bytes = randomBytes(1000);
    const sha256 = sha256Hex(bytes);
    await client(cloud, alice).upload({
      sha256,
      size: bytes.length,
      to: { [bob.id]: ['bob-phone'] },
      ref: 'rng',
      from: 'alice-phone',
      read: reader(bytes),
    });
    for (const range of ['bytes=5-2', 'bytes=abc', 'items=0-1', 'bytes=1000-'])
      assert.equal((await request(cloud, bob, 'GET', `/api/blobs/${sha256}`, { range })).status, 416, range);
    for (const name of ['0'.repeat(64), 'not-a-digest', sha256.toUpperCase()]) {
      const r = await request(cloud, bob, 'GET', `/api/blobs/${name}`);
      assert.equal(r.status, 404, name);
      assert.equal(r.json.error, 'blob_unknown');
      assert.equal((await request(cloud, bob, 'POST', `/api/blobs/${name}/received`)).json.error, 'blob_unknown');
    }
    await client(cloud, bob).received(sha256);
  });
});

describe('cloud blobs: limits', () => {
  let free = Number.MAX_SAFE_INTEGER;
  let cloud: RunningCloud;
  let otp: MemoryOtpSender;
  before(async () => {
    ({ cloud, otp } = await cloudWith({
      blobLimits: { maxBlobBytes: 6 * MiB, accountQuotaBytes: 8 * MiB, diskReserveBytes: MiB, maxPartialUploadsPerNode: 2 },
      freeBytes: () => free,
    }));
  });

  it('over the maximum size 413 file_too_large, over the quota 413 quota_exceeded, a full disk 507 insufficient_storage', async () => {
    const [a, b] = [await loginNode(cloud, otp), await loginNode(cloud, otp)];
    const to = { [b.id]: ['b-phone'] };
    const sha256 = sha256Hex(randomBytes(8));
    const big = await createUpload(cloud, a, { size: 6 * MiB + 1, sha256, to });
    assert.equal(big.status, 413, big.text);
    assert.equal(big.json.error, 'file_too_large');
    // The client sees the same refusal.
    assert.deepEqual(
      await codeOf(client(cloud, a).upload({ sha256, size: 7 * MiB, to, ref: 'r', from: 'a-phone', read: async () => new Uint8Array(0) })),
      { code: 'file_too_large', status: 413 },
    );

    // Quota: stored + partial bytes of the account.
    const stored = randomBytes(3 * MiB);
    await client(cloud, a).upload({ sha256: sha256Hex(stored), size: stored.length, to, ref: 'q1', from: 'a-phone', read: reader(stored) });
    const partial = await createUpload(cloud, a, { size: 4 * MiB, sha256, to });
    assert.equal(partial.status, 201);
    const over = await createUpload(cloud, a, { size: 2 * MiB, sha256, to });
    assert.equal(over.status, 413, over.text);
    assert.equal(over.json.error, 'quota_exceeded');
    assert.equal(
      (await createUpload(cloud, b, { size: 2 * MiB, sha256, to: { [a.id]: ['a-phone'] } })).status,
      201,
      'another account is not affected',
    );
    // Once the recipient has the stored blob, its bytes no longer count.
    await client(cloud, b).received(sha256Hex(stored));
    assert.equal((await createUpload(cloud, a, { size: 2 * MiB, sha256, to })).status, 201);
    // A node's unfinished uploads are bounded in number too.
    const many = await createUpload(cloud, a, { size: 1, sha256, to });
    assert.equal(many.status, 413);
    assert.equal(many.json.error, 'quota_exceeded');

    // The disk: what is free minus the reserve minus what unfinished uploads still need.
    const c = await loginNode(cloud, otp);
    free = 12 * MiB; // b's 2 MiB partial and a's 4 + 2 MiB partials still need 8 MiB; 1 MiB reserve.
    const full = await createUpload(cloud, c, { size: 4 * MiB, sha256, to });
    assert.equal(full.status, 507, full.text);
    assert.equal(full.json.error, 'insufficient_storage');
    assert.equal((await createUpload(cloud, c, { size: 2 * MiB, sha256, to })).status, 201, 'what fits is taken');
    free = Number.MAX_SAFE_INTEGER;
  });
});

describe('cloud blobs: limits an operator sets', () => {
  it('reads the three environment variables, and refuses a value that is no positive whole number', () => {
    assert.deepEqual(blobLimitsFromEnv({}), {});
    assert.deepEqual(
      blobLimitsFromEnv({
        SALITA_CLOUD_BLOB_MAX_BYTES: '1000',
        SALITA_CLOUD_BLOB_QUOTA_BYTES: '5000',
        SALITA_CLOUD_BLOB_RETENTION_DAYS: '2',
      }),
      { maxBlobBytes: 1000, accountQuotaBytes: 5000, retentionMs: 2 * 24 * 3600_000 },
    );
    for (const bad of ['0', '-1', '1.5', 'lots'])
      assert.throws(() => blobLimitsFromEnv({ SALITA_CLOUD_BLOB_QUOTA_BYTES: bad }), /SALITA_CLOUD_BLOB_QUOTA_BYTES/);
  });
});

describe('cloud blobs: expiry and what a restart finds', () => {
  it('a partial upload expires after its time, a complete blob after the retention time; orphan files go at start', async () => {
    let clock = Date.now();
    const { cloud, otp, dir } = await cloudWith({ blobClock: () => clock });
    const [a, b] = [await loginNode(cloud, otp), await loginNode(cloud, otp)];
    const to = { [b.id]: ['b-phone'] };
    const partial = await createUpload(cloud, a, { size: 5000, sha256: sha256Hex(randomBytes(5)), to });
    assert.equal((await request(cloud, a, 'PATCH', partial.path!, { ...APPEND, 'upload-offset': '0' }, randomBytes(2000))).status, 204);
    const bytes = randomBytes(4000);
    const sha256 = sha256Hex(bytes);
    await client(cloud, a).upload({ sha256, size: bytes.length, to, ref: 'old', from: 'a-phone', read: reader(bytes) });
    assert.equal(filesIn(dir).uploads.length, 2, 'the partial upload and its tus record');

    clock += 23 * 3600_000;
    await cloud.blobs.sweep();
    assert.equal((await request(cloud, a, 'HEAD', partial.path!, TUS)).headers.get('upload-offset'), '2000', 'not yet');
    clock += 2 * 3600_000;
    assert.equal((await request(cloud, a, 'HEAD', partial.path!, TUS)).status, 404, 'expired: refused even before the sweep');
    await cloud.blobs.sweep();
    assert.deepEqual(filesIn(dir).uploads, []);
    assert.deepEqual(
      (await client(cloud, b).incoming()).map((x) => x.sha256),
      [sha256],
      'the complete blob is still there',
    );

    clock += 30 * 24 * 3600_000;
    await cloud.blobs.sweep();
    assert.deepEqual(await client(cloud, b).incoming(), []);
    assert.equal((await request(cloud, b, 'GET', `/api/blobs/${sha256}`)).status, 404);
    assert.deepEqual(filesIn(dir), { uploads: [], complete: [] });

    // Files nobody recorded (a crash, a database restored from a backup) are removed at the next start.
    await cloud.stop();
    clouds.splice(clouds.indexOf(cloud), 1);
    writeFileSync(join(dir, 'blobs', 'complete', 'f'.repeat(64)), 'stray');
    writeFileSync(join(dir, 'blobs', 'uploads', 'AAAAAAAAAAAAAAAAAAAAAA'), 'stray');
    writeFileSync(join(dir, 'blobs', 'uploads', 'AAAAAAAAAAAAAAAAAAAAAA.json'), '{}');
    await cloudWith({ dataDir: dir, blobClock: () => clock });
    assert.deepEqual(filesIn(dir), { uploads: [], complete: [] });
  });

  it('an upload whose bytes were all in when the cloud stopped is checked at the next start (or its HEAD), not taken for done', async () => {
    const { cloud, otp, dir } = await cloudWith();
    const [a, b] = [await loginNode(cloud, otp), await loginNode(cloud, otp)];
    const bytes = randomBytes(3000);
    const sha256 = sha256Hex(bytes);
    const up = await createUpload(cloud, a, { size: bytes.length, sha256, to: { [b.id]: ['b-phone'] } });
    assert.equal((await request(cloud, a, 'PATCH', up.path!, { ...APPEND, 'upload-offset': '0' }, bytes.subarray(0, 1000))).status, 204);
    await cloud.stop();
    clouds.splice(clouds.indexOf(cloud), 1);
    // As if the last PATCH had written its bytes and the cloud died before it checked them.
    const id = up.path!.split('/').pop()!;
    writeFileSync(join(dir, 'blobs', 'uploads', id), bytes);
    const again = await cloudWith({ dataDir: dir });
    const head = await request(again.cloud, a, 'HEAD', up.path!, TUS);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('upload-offset'), String(bytes.length));
    assert.deepEqual(
      (await client(again.cloud, b).incoming()).map((x) => x.sha256),
      [sha256],
    );
    assert.equal(
      createHash('sha256')
        .update(await readAll(await client(again.cloud, b).download(sha256)))
        .digest('hex'),
      sha256,
    );

    // The same with bytes that are not what was declared: the HEAD finds them wrong and the upload is gone.
    const other = randomBytes(2000);
    const up2 = await createUpload(again.cloud, a, { size: other.length, sha256: sha256Hex(other), to: { [b.id]: ['b-phone'] } });
    writeFileSync(join(dir, 'blobs', 'uploads', up2.path!.split('/').pop()!), randomBytes(2000));
    assert.equal((await request(again.cloud, a, 'HEAD', up2.path!, TUS)).status, 404);
    assert.deepEqual(
      (await client(again.cloud, b).incoming()).map((x) => x.sha256),
      [sha256],
    );
  });
});
