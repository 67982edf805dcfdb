// What the account and contact tests share: JSON calls to the cloud (optionally from a chosen loopback source
// address), a node logged in to an account publishing one phone, what a node's directory lists, a throw-away cloud.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudOptions, RunningCloud } from '../../src/cloud/server.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import type { KeyPair } from '../../src/shared/crypto/noise/index.js';
import { seal } from '../../src/shared/e2ee/index.js';
import { startTestCloud } from '../helpers/test-cloud.js';
import { RelayListener } from './blob-helpers.js';

export const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');

export async function call(cloud: { url: string }, method: string, path: string, token?: string, body?: unknown, from?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Noise ${token}`;
  // The cloud counts per source address: with `from`, the request leaves from that address on 127/8.
  const res = from
    ? await postFrom(cloud.url + path, from, body)
    : await fetch(cloud.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** POST from a chosen loopback source address (Linux routes all of 127/8 to lo). */
async function postFrom(url: string, from: string, body: unknown): Promise<{ status: number; json(): Promise<unknown> }> {
  const http = await import('node:http');
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: async () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export interface Household {
  key: KeyPair;
  id: string;
  token: string;
  device: { id: string; keys: KeyPair };
}

let unique = 0;
/** A fresh id suffix for made-up device ids. */
export const nextId = () => ++unique;

/** A node logged in to `email`'s account (code from `codeOf`), publishing one phone. */
export async function joinAccount(
  cloud: RunningCloud,
  email: string | undefined,
  codeOf: (challengeId: string) => string | Promise<string>,
  name = `node ${++unique}`,
): Promise<Household> {
  const key = NODE_X25519.generateKeyPair();
  const id = b64(key.publicKey);
  const c = await call(cloud, 'POST', '/api/auth/challenge', undefined, { device_id: id, name, ...(email ? { email } : {}) });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const v = await call(cloud, 'POST', '/api/auth/verify', undefined, {
    challenge_id: c.body.challenge_id,
    code: await codeOf(c.body.challenge_id),
  });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const token = v.body.noise_session.token as string;
  const device = { id: `phone-${process.pid}-${++unique}`, keys: NODE_X25519.generateKeyPair() };
  const p = await call(cloud, 'PUT', '/api/keys', token, {
    devices: [{ device_id: device.id, public_key: b64(device.keys.publicKey), name: `${name} phone`, kind: 'phone' }],
  });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  return { key, id, token, device };
}

export const listed = async (cloud: RunningCloud, n: Household) => {
  const r = await call(cloud, 'GET', '/api/keys', n.token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body.devices as { device_id: string; node: string }[]).map((d) => d.device_id).sort();
};

/** A cloud in a fresh data dir (handed to `fn` too), stopped and removed afterwards. */
export async function withCloud(opts: Partial<CloudOptions>, fn: (cloud: RunningCloud, dataDir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'salita-accounts-'));
  const cloud = await startTestCloud({ dataDir: dir, port: 0, log: () => {}, ...opts });
  try {
    await fn(cloud, dir);
  } finally {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sends one envelope from `from`'s phone to `to`'s over `from`'s relay socket; the cloud's answer. */
export async function relayAnswer(cloud: Parameters<typeof RelayListener.connect>[0], from: Household, to: Household) {
  const ws = await RelayListener.connect(cloud, from);
  try {
    const env = seal(new TextEncoder().encode('hello'), {
      from: { device_id: from.device.id, privateKey: from.device.keys.privateKey, publicKey: from.device.keys.publicKey },
      to: [{ device_id: to.device.id, publicKey: to.device.keys.publicKey }],
    });
    ws.ws.send(JSON.stringify({ type: 'send', envelope: env }));
    const f = await ws.waitFor((x) => (x.type === 'accepted' || x.type === 'rejected') && x.id === env.id);
    return f.type === 'rejected' ? f.error : 'accepted';
  } finally {
    ws.close();
  }
}
