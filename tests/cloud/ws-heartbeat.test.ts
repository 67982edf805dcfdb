// The cloud pings its relay and noise sockets: one whose client stopped answering (a node that vanished
// without a FIN) is terminated, a healthy one stays. No timing assertions: waits are for a close or pings seen.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { startTestCloud } from '../helpers/test-cloud.js';

const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');

async function post(cloud: RunningCloud, path: string, body: unknown) {
  const res = await fetch(cloud.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function token(cloud: RunningCloud, otp: MemoryOtpSender): Promise<string> {
  const key = NODE_X25519.generateKeyPair();
  const c = await post(cloud, '/api/auth/challenge', { device_id: b64(key.publicKey), email: 'home@salita.test' });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const v = await post(cloud, '/api/auth/verify', { challenge_id: c.body.challenge_id, code: otp.codeFor(c.body.challenge_id) });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  return v.body.noise_session.token;
}

function openSocket(url: string, opts: WebSocket.ClientOptions): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.once('open', () => resolve({ ws, closed }));
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** A close, or a clear failure after a generous limit (without pings the socket would stay open for ever). */
const closedWithin = (p: Promise<number>) =>
  Promise.race([
    p,
    new Promise<number>((_r, reject) => setTimeout(() => reject(new Error('the socket was never closed')), 12_000).unref()),
  ]);

const waitFor = async (check: () => boolean, what: string) => {
  const until = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('cloud WebSocket pings', () => {
  let dir: string;
  let cloud: RunningCloud;
  const otp = new MemoryOtpSender();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'salita-cloud-ping-'));
    cloud = await startTestCloud({ dataDir: dir, port: 0, otpSender: otp, log: () => {}, wsPingIntervalMs: 100 });
  });
  after(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a relay socket that stops answering pings is terminated; a healthy one stays', async () => {
    const wsUrl = `${cloud.url.replace('http', 'ws')}/v1/relay`;
    const silent = await openSocket(wsUrl, { headers: { authorization: `Noise ${await token(cloud, otp)}` }, autoPong: false });
    const healthy = await openSocket(wsUrl, { headers: { authorization: `Noise ${await token(cloud, otp)}` } });
    let pings = 0;
    healthy.ws.on('ping', () => pings++);
    assert.equal(await closedWithin(silent.closed), 1006, 'terminated by the server, no close frame');
    await waitFor(() => pings >= 5, 'the healthy socket saw several pings');
    assert.equal(healthy.ws.readyState, WebSocket.OPEN);
    healthy.ws.close();
  });

  it('a noise socket that stops answering pings is terminated before its handshake timeout', async () => {
    const silent = await openSocket(`${cloud.url.replace('http', 'ws')}/v1/noise`, { autoPong: false });
    assert.equal(await closedWithin(silent.closed), 1006, 'terminated by the heartbeat, not closed 4400 by the 15 s handshake timeout');
  });
});
