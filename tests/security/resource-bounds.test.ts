// Floods against what one caller can make the node hold: pairing codes, session rows, sockets per session,
// admin sockets, silent sockets, and pairing start/lookup rates. Every assertion is about a bound (a count, a
// status), never about speed.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { DEFAULT_LIMITS } from '../../src/main/core/config.js';
import { CLOSE_TOO_MANY_SOCKETS } from '../../src/main/core/http/device-sockets.js';
import { ADMIN_WS_PROTOCOL } from '../../src/main/core/http/request-auth.js';
import { cleanupAll, eventually, makePhone, pairPhone, postJson, startTestNode, type TestNode } from '../helpers/test-node.js';

after(cleanupAll);

const noLimits = { pairStartsPerMinute: 1e9, pairLookupsPerMinute: 1e9 };

async function startMany(
  node: TestNode,
  n: number,
): Promise<{ ok: number; limited: { status: number; body: any; retryAfter: string | null }[] }> {
  let ok = 0;
  const limited: { status: number; body: any; retryAfter: string | null }[] = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        const r = await postJson(`${node.base}/auth/pair/start`, {}, { authorization: `Admin ${node.adminToken}` });
        if (r.status === 200) ok++;
        else limited.push({ status: r.status, body: r.body, retryAfter: r.headers.get('retry-after') });
      }),
    );
  }
  return { ok, limited };
}

/** Opens a socket; `closes` hears its close code even if the server closes it before the caller looks. */
function openSocket(url: string, opts: WebSocket.ClientOptions = {}, closes?: number[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    if (closes) ws.once('close', (code) => closes.push(code));
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('pairing codes under a pair/start flood', () => {
  test('a flood of pair/start is refused with 429 rate_limited, and the rows stay bounded', async () => {
    const node = await startTestNode();
    const { ok, limited } = await startMany(node, 400);
    assert.ok(ok >= 1 && ok <= DEFAULT_LIMITS.pairStartsPerMinute + 5, `only about the per-minute allowance got through (got ${ok})`);
    assert.ok(limited.length >= 400 - DEFAULT_LIMITS.pairStartsPerMinute - 5);
    for (const r of limited) {
      assert.equal(r.status, 429);
      assert.equal(r.body.error, 'rate_limited');
      assert.equal(typeof r.body.message, 'string');
      assert.ok(Number.isInteger(r.body.retry_after) && r.body.retry_after >= 1, JSON.stringify(r.body));
      assert.equal(r.retryAfter, String(r.body.retry_after));
    }
    assert.ok(node.core.pairing.codeCounts().rows <= ok);
  });

  test('without the rate limit, 1,500 codes leave at most maxPairingCodeRows rows and maxLivePairingCodes live ones', async () => {
    const node = await startTestNode({ limits: noLimits });
    const first = await node.startPairing();
    const { ok } = await startMany(node, 1500);
    assert.equal(ok, 1500);
    const counts = node.core.pairing.codeCounts();
    assert.ok(counts.rows <= DEFAULT_LIMITS.maxPairingCodeRows, `rows: ${counts.rows}`);
    assert.ok(counts.live <= DEFAULT_LIMITS.maxLivePairingCodes, `live: ${counts.live}`);
    // The newest code still pairs; the first one is gone (expired, then pruned).
    await pairPhone(node);
    const old = await postJson(`${node.base}/auth/pair/verify`, { code: first.code, noise: randomBytes(96).toString('base64url') });
    assert.ok(old.body.error === 'code_unknown' || old.body.error === 'code_expired', JSON.stringify(old.body));
  });

  test('a flood of code lookups (pair/verify) from one address is refused with 429 rate_limited', async () => {
    const node = await startTestNode();
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        postJson(`${node.base}/auth/pair/verify`, {
          code: randomBytes(16).toString('base64url'),
          noise: randomBytes(96).toString('base64url'),
        }),
      ),
    );
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length >= 200 - DEFAULT_LIMITS.pairLookupsPerMinute - 5, `429s: ${limited.length}`);
    for (const r of limited) {
      assert.equal(r.body.error, 'rate_limited');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    assert.ok(answers.every((a) => a.status < 500));
  });
});

describe('device sessions of devices that are not (or no longer) paired', () => {
  test('re-pairing one device many times keeps at most maxSessionsPerDevice rows for it', async () => {
    const node = await startTestNode({ limits: noLimits });
    const phone = makePhone();
    for (let i = 0; i < 30; i++) await pairPhone(node, { phone });
    assert.ok(node.core.sessionsRepo.count() <= DEFAULT_LIMITS.maxSessionsPerDevice, `rows: ${node.core.sessionsRepo.count()}`);
    const last = await pairPhone(node, { phone });
    assert.equal((await last.client.request('GET', '/api/session')).status, 200, 'the newest session still works');
  });

  test('pairing and unpairing many devices keeps the dead rows bounded', async () => {
    const node = await startTestNode({ limits: { ...noLimits, maxDeadSessionRows: 20 } });
    const keeper = await pairPhone(node);
    for (let i = 0; i < 60; i++) {
      const p = await pairPhone(node);
      await node.admin(`/api/mesh/nodes/${p.phone.identity.node_id}`, { method: 'DELETE' });
    }
    // 20 dead rows, plus the keeper's live one, plus at most one pairing's worth not yet pruned.
    assert.ok(node.core.sessionsRepo.count() <= 22, `rows: ${node.core.sessionsRepo.count()}`);
    assert.equal((await keeper.client.request('GET', '/api/session')).status, 200, 'a live session is never pruned for being old');
  });
});

describe('sockets', () => {
  test('500 sockets on one session: at most maxSocketsPerSession stay open, the older ones are closed with 4429', async () => {
    const node = await startTestNode();
    const { client } = await pairPhone(node);
    const sockets: WebSocket[] = [];
    const closes: number[] = [];
    for (let i = 0; i < 500; i += 25) {
      sockets.push(
        ...(await Promise.all(Array.from({ length: 25 }, () => openSocket(client.webSocketUrl('/api/device/events'), {}, closes)))),
      );
    }
    await eventually(
      () => sockets.filter((s) => s.readyState === WebSocket.OPEN).length <= DEFAULT_LIMITS.maxSocketsPerSession,
      'the extra sockets closed',
      30_000,
    );
    assert.ok(node.core.deviceSockets.count() <= DEFAULT_LIMITS.maxSocketsPerSession);
    await eventually(() => closes.length >= 500 - DEFAULT_LIMITS.maxSocketsPerSession, 'close codes arrived', 30_000);
    assert.ok(
      closes.every((c) => c === CLOSE_TOO_MANY_SOCKETS),
      `codes: ${[...new Set(closes)].join(',')}`,
    );
    assert.equal(sockets.at(-1)!.readyState, WebSocket.OPEN, 'the newest socket is the one kept');
    for (const s of sockets) s.terminate();
  });

  test('admin event sockets are capped too', async () => {
    const node = await startTestNode();
    const url = `ws://127.0.0.1:${node.port}/api/admin/events`;
    const sockets: WebSocket[] = [];
    const closes: number[] = [];
    for (let i = 0; i < 60; i++) {
      const ws = await new Promise<WebSocket>((resolve, reject) => {
        const w = new WebSocket(url, [ADMIN_WS_PROTOCOL, node.adminToken]);
        w.once('close', (code) => closes.push(code));
        w.once('open', () => resolve(w));
        w.once('error', reject);
      });
      sockets.push(ws);
    }
    await eventually(
      () => sockets.filter((s) => s.readyState === WebSocket.OPEN).length <= DEFAULT_LIMITS.maxAdminSockets,
      'the extra admin sockets closed',
    );
    await eventually(() => closes.length >= 60 - DEFAULT_LIMITS.maxAdminSockets, 'close codes arrived');
    assert.ok(
      closes.every((c) => c === CLOSE_TOO_MANY_SOCKETS),
      `codes: ${[...new Set(closes)].join(',')}`,
    );
    assert.equal(sockets.at(-1)!.readyState, WebSocket.OPEN);
    for (const s of sockets) s.terminate();
  });

  test('the server pings: a client that stops answering pongs is closed, a healthy one stays', async () => {
    const node = await startTestNode({ timings: { wsPingIntervalMs: 100 } });
    const { client } = await pairPhone(node);
    const silent = await openSocket(client.webSocketUrl('/api/device/events'), { autoPong: false });
    const healthy = await openSocket(client.webSocketUrl('/api/device/events'));
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    let pings = 0;
    healthy.on('ping', () => pings++);
    let silentGone = false;
    void silentClosed.then(() => {
      silentGone = true;
    });
    await eventually(() => silentGone, 'the silent socket was closed by the server');
    await eventually(() => pings >= 5, 'the healthy socket saw several pings');
    assert.equal(healthy.readyState, WebSocket.OPEN, 'a socket that answers pings stays open');
    await eventually(() => node.core.deviceSockets.count() === 1, 'the silent socket is forgotten');
    healthy.close();
  });
});
