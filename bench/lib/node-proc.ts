// Real nodes for the message benches: a built headless node (from a private copy of out/main, see snapshotBuild)
// in its own process, a phone paired with it over the real flow, and the phone-to-phone Path through nodes: the
// sending phone's signed `POST /api/messages`, the receiving phone's device WebSocket (pushes), which acks its
// inbox every 200 ms as the phone page does. What happens between the two nodes (cloud, peer link, nothing) is
// up to the bench that pairs and links them.
import { join } from 'node:path';
import WebSocket from 'ws';
import { NODE_NOISE_SUITE, NODE_SHA256 } from '../../src/server/crypto/node-noise.js';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { pairWithNode } from '../../src/shared/client/pairing-client.js';
import type { Phone } from '../../tests/helpers/test-node.js';
import { makeHttpFetch } from './http-fetch.js';
import { countError, type Path, sleep } from './load.js';
import { type Child, spawnNode, tempDir } from './procs.js';

export interface NodeProc {
  c: Child;
  base: string;
  port: number;
  nodeId: string;
  adminToken: string;
  cloudDeviceId: string;
  admin(path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** `nodeArgs` go before the script (e.g. --cpu-prof), `args` after it (e.g. --timings); `nofile`: its fd limit. */
export async function startNodeProc(
  build: string,
  name: string,
  opts: { nodeArgs?: string[]; args?: string[]; nofile?: number } = {},
): Promise<NodeProc> {
  const c = spawnNode(
    name,
    [
      ...(opts.nodeArgs ?? []),
      join(build, 'out/main/headless.js'),
      '--data-dir',
      tempDir(),
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--no-mdns',
      '--no-pair',
      ...(opts.args ?? []),
    ],
    { cwd: build, ...(opts.nofile !== undefined ? { nofile: opts.nofile } : {}) },
  );
  const ready = await c.waitFor(/^READY (\{.*\})$/, 60_000);
  const { port, node_id: nodeId } = JSON.parse(ready[1]!) as { port: number; node_id: string };
  const adminToken = (await c.waitFor(/#admin=([A-Za-z0-9_-]+)/, 1000, true))[1]!;
  const base = `http://127.0.0.1:${port}`;
  const admin: NodeProc['admin'] = async (path, body) => {
    const res = await fetch(base + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Admin ${adminToken}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* keep text */
    }
    return { status: res.status, body: parsed };
  };
  const identity = (await (await fetch(`${base}/api/node/identity`)).json()) as { public_key: string };
  return { c, base, port, nodeId, adminToken, cloudDeviceId: identity.public_key, admin };
}

/**
 * Pairs a phone identity with a node as the phone page does. The client signs with node:crypto (the phone's own
 * CPU is not what is measured; sealing was done beforehand, too) and uses node:http instead of undici's fetch
 * (see bench/lib/http-fetch.ts) unless `undici`.
 */
export async function pairBenchPhone(node: NodeProc, phone: Phone, undici = false): Promise<DeviceClient> {
  const start = await node.admin('/auth/pair/start', {});
  if (start.status !== 200) throw new Error(`pair/start: ${start.status} ${JSON.stringify(start.body)}`);
  const s = start.body as { code: string; pin: string; fingerprint: string };
  const p = await pairWithNode({
    baseUrl: node.base,
    code: s.code,
    pin: s.pin,
    expectedFingerprint: s.fingerprint,
    identity: phone.pairing,
    suite: NODE_NOISE_SUITE,
  });
  return new DeviceClient(
    node.base,
    { sessionId: p.sessionId, deviceSecret: p.deviceSecret },
    { sha256: NODE_SHA256, ...(undici ? {} : { fetch: makeHttpFetch(256) }) },
  );
}

/** Pairs desktop A with desktop B as a person does it: B's pairing URL and PIN typed on A (`/api/admin/pair-remote`). */
export async function pairDesktops(A: NodeProc, B: NodeProc): Promise<void> {
  const start = await B.admin('/auth/pair/start', {});
  if (start.status !== 200) throw new Error(`B pair/start: ${start.status} ${JSON.stringify(start.body)}`);
  // The pairing URL names B's LAN address; the nodes listen on loopback only.
  const url = new URL(start.body.url as string);
  url.hostname = '127.0.0.1';
  url.port = String(B.port);
  const r = await A.admin('/api/admin/pair-remote', { url: url.toString(), pin: start.body.pin });
  if (r.status !== 200 || r.body?.node?.node_id !== B.nodeId) throw new Error(`pair-remote: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function until<T>(what: string, check: () => Promise<T | undefined | false>, limitMs = 60_000): Promise<T> {
  const end = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

/**
 * The Path from `sender` (a phone's client on its node) to `receiver` (a phone's client on its node, possibly the
 * same node). `middle` are the processes whose CPU is reported; `closeNodes` stops them.
 */
export async function phoneToPhonePath(
  name: string,
  middle: Child[],
  sender: DeviceClient,
  receiver: DeviceClient,
  closeNodes: () => Promise<void>,
): Promise<Path> {
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const s = new WebSocket(receiver.webSocketUrl('/api/device/events'), { perMessageDeflate: false });
    s.once('message', () => resolve(s)); // hello
    s.once('unexpected-response', (_q, res) => reject(new Error(`${name}: receiving phone's socket: HTTP ${res.statusCode}`)));
    s.once('error', reject);
  });
  let maxSeq = 0,
    acked = 0,
    acking = false;
  const ackTimer = setInterval(() => {
    if (acking || maxSeq <= acked) return;
    acking = true;
    const upTo = maxSeq;
    void receiver
      .request('POST', '/api/messages/inbox/ack', { up_to_seq: upTo })
      .then(
        (r) => {
          if (r.status === 200) acked = upTo;
          else countError(path, `inbox ack HTTP ${r.status}`);
        },
        (err: Error) => countError(path, `inbox ack: ${err.message}`),
      )
      .finally(() => {
        acking = false;
      });
  }, 200);

  const path: Path = {
    name,
    middle,
    errors: new Map(),
    onReceive: () => {},
    onSendFailed: () => {},
    pendingSends: 0,
    lastReceiveAt: 0,
    send: (m) => {
      path.pendingSends++;
      const post = () => sender.request('POST', '/api/messages', { envelope: m.obj });
      // A kept-alive connection the node closed as it idled can fail the first write ("socket hang up",
      // ECONNRESET): re-sign and resend once, as a phone would (a send is idempotent by envelope id).
      void post()
        .catch((err: Error & { code?: string }) => {
          if (err.code === 'ECONNRESET' || /socket hang up/.test(err.message)) {
            countError(path, `resent after: ${err.message}`);
            return post();
          }
          throw err;
        })
        .finally(() => {
          path.pendingSends--;
        })
        .then(
          (r) => {
            if (r.status !== 202) {
              countError(path, `send HTTP ${r.status} ${(r.body as { error?: string })?.error ?? JSON.stringify(r.body).slice(0, 200)}`);
              path.onSendFailed(m.id);
            }
          },
          (err: Error & { cause?: { code?: string; message?: string } }) => {
            countError(path, `send: ${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}`);
            path.onSendFailed(m.id);
          },
        );
    },
    close: async () => {
      clearInterval(ackTimer);
      ws.close();
      await closeNodes();
    },
  };
  ws.on('message', (data) => {
    const f = JSON.parse(String(data)) as { type: string; seq?: number; envelope?: { id: string } };
    if (f.type !== 'envelope' || !f.envelope) return;
    path.lastReceiveAt = performance.now();
    if (f.seq && f.seq > maxSeq) maxSeq = f.seq;
    path.onReceive(f.envelope.id);
  });
  return path;
}
