// A raw client of the cloud's relay for tests: home nodes logged in with the plain OTP flow, their devices
// published, real sealed envelopes, and a socket that keeps every frame (waits are for frames or the close).
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import type { KeyPair } from '../../src/shared/crypto/noise/index.js';
import { type Envelope, seal } from '../../src/shared/e2ee/index.js';
import { CloudToNodeFrame, type DirectoryDevice } from '../../src/shared/wire/relay.js';

export const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');
let unique = 0;

export interface Device {
  id: string;
  keys: KeyPair;
  kind: 'phone' | 'desktop';
}
export function device(label: string, kind: Device['kind'] = 'phone'): Device {
  return { id: `${label}-${process.pid}-${++unique}`, keys: NODE_X25519.generateKeyPair(), kind };
}
export const published = (d: Device): DirectoryDevice => ({
  device_id: d.id,
  public_key: b64(d.keys.publicKey),
  name: d.id.slice(0, 60),
  kind: d.kind,
});

export async function call(cloud: RunningCloud, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Noise ${token}`;
  const res = await fetch(cloud.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** A home node as the cloud sees it: one static key, one token, its devices. */
export interface TestNode {
  key: KeyPair;
  id: string;
  token: string;
  devices: Device[];
}
export async function loginNode(cloud: RunningCloud, otp: MemoryOtpSender, key = NODE_X25519.generateKeyPair()): Promise<TestNode> {
  const c = await call(cloud, 'POST', '/api/auth/challenge', undefined, { device_id: b64(key.publicKey), email: 'home@salita.test' });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const v = await call(cloud, 'POST', '/api/auth/verify', undefined, {
    challenge_id: c.body.challenge_id,
    code: otp.codeFor(c.body.challenge_id),
  });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  return { key, id: b64(key.publicKey), token: v.body.noise_session.token, devices: [] };
}

export async function publish(cloud: RunningCloud, node: TestNode, devices: Device[]) {
  const r = await call(cloud, 'PUT', '/api/keys', node.token, { devices: devices.map(published) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  node.devices = devices;
}

export function envelope(from: Device, to: Device[], text = `hello ${++unique}`): Envelope {
  return seal(new TextEncoder().encode(text), {
    from: { device_id: from.id, privateKey: from.keys.privateKey, publicKey: from.keys.publicKey },
    to: to.map((d) => ({ device_id: d.id, publicKey: d.keys.publicKey })),
  });
}

export type Frame = CloudToNodeFrame;

/** A raw relay socket that keeps every frame; waits are for frames (by predicate) or the close. */
export class Relay {
  readonly frames: Frame[] = [];
  private readonly waiters = new Set<() => void>();
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const f = CloudToNodeFrame.parse(JSON.parse(String(d)));
      this.frames.push(f);
      for (const w of [...this.waiters]) w();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const w of [...this.waiters]) w();
      }),
    );
  }

  static async connect(cloud: RunningCloud, node: TestNode): Promise<Relay> {
    const r = new Relay(
      new WebSocket(`${cloud.url.replace('http', 'ws')}/v1/relay`, { headers: { authorization: `Noise ${node.token}` } }),
    );
    await r.waitFor((f) => f.type === 'hello', 'hello');
    return r;
  }

  get hello() {
    return this.frames[0] as Extract<Frame, { type: 'hello' }>;
  }

  /** Resolves with the first frame (from index `from`) that matches; fails if the socket closes first. */
  waitFor<T extends Frame>(pred: (f: Frame) => boolean, what: string, from = 0): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const f = this.frames.slice(from).find(pred);
        if (f) {
          this.waiters.delete(check);
          resolve(f as T);
          return true;
        }
        if (this.ws.readyState === WebSocket.CLOSED) {
          this.waiters.delete(check);
          reject(new Error(`socket closed while waiting for ${what}`));
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.add(check);
    });
  }

  /** Waits until `n` frames match. */
  async waitCount(pred: (f: Frame) => boolean, n: number, what: string): Promise<Frame[]> {
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.frames.filter(pred).length >= n) {
          this.waiters.delete(check);
          resolve();
          return true;
        }
        if (this.ws.readyState === WebSocket.CLOSED) {
          this.waiters.delete(check);
          reject(new Error(`socket closed while waiting for ${n} × ${what}`));
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.add(check);
    });
    return this.frames.filter(pred);
  }

  /** Acks every frame of this type as it arrives (a node that stores at once), so the window keeps moving. */
  autoAck(type: 'deliver' | 'receipt') {
    this.ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      if (f.type === type) this.ack(f.seq);
    });
  }

  sendRaw(data: string | Buffer) {
    this.ws.send(data);
  }
  send(env: unknown) {
    this.ws.send(JSON.stringify({ type: 'send', envelope: env }));
  }
  ack(seq: number) {
    this.ws.send(JSON.stringify({ type: 'ack', seq }));
  }

  /** The answer (accepted/rejected) for envelope `id`. */
  answer(id: string, from = 0) {
    return this.waitFor<Extract<Frame, { type: 'accepted' | 'rejected' }>>(
      (f) => (f.type === 'accepted' || f.type === 'rejected') && f.id === id,
      `answer for ${id}`,
      from,
    );
  }

  /**
   * Waits until every frame sent before has been committed: a throwaway envelope from an unpublished device is
   * answered (sender_not_published) only after the group commit of its batch, and acks sent before it are in
   * that batch or an earlier one.
   */
  async barrier(): Promise<void> {
    const ghost = device('ghost');
    const env = envelope(ghost, [ghost]);
    this.send(env);
    const a = await this.answer(env.id);
    assert.equal(a.type === 'rejected' && a.error, 'sender_not_published');
  }

  async close() {
    this.ws.close();
    await this.closed;
  }
}
