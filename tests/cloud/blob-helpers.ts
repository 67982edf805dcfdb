// What the cloud blob tests share: nodes logged in with the plain OTP flow (as tests/cloud/relay.test.ts does), raw
// tus requests with a node's token, and the relay socket a node hears blob_ready on.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import type { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import type { RunningCloud } from '../../src/cloud/server.js';
import { NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { CloudToNodeFrame } from '../../src/shared/wire/relay.js';

export const MiB = 1024 * 1024;
export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');

export interface BlobTestNode {
  id: string;
  token: string;
}

/** A node logged in to the account of `email` (nodes of one account are one household and reach each other). */
export async function loginNode(cloud: { url: string }, otp: MemoryOtpSender, email = 'home@salita.test'): Promise<BlobTestNode> {
  const id = b64(NODE_X25519.generateKeyPair().publicKey);
  const post = async (path: string, body: unknown) => {
    const res = await fetch(cloud.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, any>;
    assert.equal(res.status, 200, JSON.stringify(json));
    return json;
  };
  const c = await post('/api/auth/challenge', { device_id: id, email });
  const v = await post('/api/auth/verify', { challenge_id: c.challenge_id, code: otp.codeFor(c.challenge_id) });
  return { id, token: v.noise_session.token as string };
}

/** tus Upload-Metadata: each value base64. */
export const tusMetadata = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

export interface Reply {
  status: number;
  headers: Headers;
  json: { error?: string; message?: string; [k: string]: unknown };
  text: string;
}

/** One request with `node`'s token (none: no Authorization), tus's header on by default. */
export async function request(
  cloud: RunningCloud,
  node: BlobTestNode | undefined,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Uint8Array | string,
): Promise<Reply> {
  const res = await fetch(cloud.url + path, {
    method,
    headers: { ...(node ? { authorization: `Noise ${node.token}` } : {}), ...headers },
    ...(body !== undefined ? { body: body as BodyInit } : {}),
  });
  const text = await res.text();
  let json: Reply['json'] = {};
  try {
    json = JSON.parse(text);
  } catch {
    /* a tus success has no body */
  }
  return { status: res.status, headers: res.headers, json, text };
}

export const TUS = { 'tus-resumable': '1.0.0' };
export const APPEND = { ...TUS, 'content-type': 'application/offset+octet-stream' };

/** POST /api/blobs: a tus creation; the upload's path on success. */
export async function createUpload(
  cloud: RunningCloud,
  node: BlobTestNode,
  o: { size: number; sha256: string; to: Record<string, string[]>; ref?: string; from?: string },
): Promise<Reply & { path?: string }> {
  const r = await request(cloud, node, 'POST', '/api/blobs', {
    ...TUS,
    'upload-length': String(o.size),
    'upload-metadata': tusMetadata({ sha256: o.sha256, to: JSON.stringify(o.to), ref: o.ref ?? 'ref-1', from: o.from ?? 'device-1' }),
  });
  const loc = r.headers.get('location');
  return { ...r, ...(loc ? { path: loc } : {}) };
}

/** A node's relay socket that keeps every frame; waitFor resolves with the first matching one. */
export class RelayListener {
  readonly frames: CloudToNodeFrame[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.frames.push(CloudToNodeFrame.parse(JSON.parse(String(d))));
      for (const w of [...this.waiters]) w();
    });
  }

  static async connect(cloud: RunningCloud, node: BlobTestNode): Promise<RelayListener> {
    const r = new RelayListener(
      new WebSocket(`${cloud.url.replace('http', 'ws')}/v1/relay`, { headers: { authorization: `Noise ${node.token}` } }),
    );
    await r.waitFor((f) => f.type === 'hello');
    return r;
  }

  /** The first frame that matches; fails if the socket closes first, or after `limitMs` (a push that never came). */
  waitFor(pred: (f: CloudToNodeFrame) => boolean, limitMs = 15_000): Promise<CloudToNodeFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no such frame within ${limitMs} ms; got ${JSON.stringify(this.frames.map((f) => f.type))}`));
      }, limitMs);
      const check = () => {
        const f = this.frames.find(pred);
        if (f) {
          this.waiters.delete(check);
          clearTimeout(timer);
          resolve(f);
        } else if (this.ws.readyState === WebSocket.CLOSED) {
          this.waiters.delete(check);
          clearTimeout(timer);
          reject(new Error('the relay socket closed first'));
        }
      };
      this.waiters.add(check);
      this.ws.once('close', check);
      check();
    });
  }

  close(): void {
    this.ws.close();
  }
}
