// Peer-link test helpers: a fake router port that records what the link hands it, valid envelopes, two paired
// desktops, and a raw peer (the test as a paired desktop) that speaks the link by hand so attacks can send
// exactly the bytes they want.
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { v7 as uuidv7 } from 'uuid';
import { WebSocket } from 'ws';
import type { NodeOptions } from '../../src/main/core/node.js';
import { FrameCipher } from '../../src/main/core/peer-link/frame-cipher.js';
import { peerLinkUrl } from '../../src/main/core/peer-link/peer-dialer.js';
import { peerLinkHandshake } from '../../src/main/core/peer-link/peer-link-keys.js';
import type { PeerLinkRouterPort, PeerOutboundItem, PeerRefusal } from '../../src/main/core/routing/ports.js';
import { deriveServerHmacKey } from '../../src/shared/auth/request-signing.js';
import { pairWithNode } from '../../src/shared/client/pairing-client.js';
import type { Envelope } from '../../src/shared/e2ee/schema.js';
import { fromBase64Url, toBase64Url } from '../../src/shared/encoding.js';
import type { AnnouncedDevice, BlobData, PeerFrame } from '../../src/shared/wire/peer-link.js';
import type { DirectoryDevice } from '../../src/shared/wire/relay.js';
import { eventually, loopbackUrl, startTestNode, type TestNode } from './test-node.js';

/** A promise with a generous limit, so a check that is missing fails the test instead of hanging it. */
export function within<T>(p: Promise<T>, what: string, limitMs = 15_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), limitMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Fast reconnects for tests (LAN defaults are 0.5 s .. 10 s). */
export const FAST_PEER_LINK = {
  backoffBaseMs: 50,
  backoffCapMs: 300,
  attemptTimeoutMs: 3_000,
  unpairAckTimeoutMs: 3_000,
  touchIntervalMs: 200,
  pingIntervalMs: 5_000,
};

export class FakeRouterPort implements PeerLinkRouterPort {
  devices: DirectoryDevice[] = [];
  /** The old ids each local device replaced (re-paired), as the router would give them. */
  replacements = new Map<string, string[]>();
  readonly outbox = new Map<string, PeerOutboundItem[]>();
  readonly stored: { nodeId: string; envelope: Envelope }[] = [];
  readonly seen: { nodeId: string; id: string; deviceIds: string[] }[] = [];
  readonly acked: { nodeId: string; seq: number; kind: string; id: string; refused?: PeerRefusal }[] = [];
  /** When set, storeFromPeer waits for it (tests hold acks back). */
  hold: Promise<void> | undefined;
  refuse: string[] = [];
  private seq = 0;
  private queuedFns = new Set<(n: string) => void>();
  private devicesFns = new Set<() => void>();

  localReplacements(): ReadonlyMap<string, readonly string[]> {
    return this.replacements;
  }
  pendingForPeer(nodeId: string, afterSeq: number, limit: number): PeerOutboundItem[] {
    return (this.outbox.get(nodeId) ?? []).filter((i) => i.seq > afterSeq).slice(0, limit);
  }
  onQueuedForPeer(fn: (nodeId: string) => void) {
    this.queuedFns.add(fn);
    return () => {
      this.queuedFns.delete(fn);
    };
  }
  async peerAcked(nodeId: string, item: { seq: number; kind: 'envelope' | 'seen'; id: string }, refused?: PeerRefusal) {
    this.acked.push({ nodeId, ...item, ...(refused ? { refused } : {}) });
    this.outbox.set(
      nodeId,
      (this.outbox.get(nodeId) ?? []).filter((i) => i.seq !== item.seq),
    );
  }
  async storeFromPeer(nodeId: string, envelope: Envelope) {
    this.stored.push({ nodeId, envelope });
    if (this.hold) await this.hold;
    return { refused: envelope.to.filter((t) => this.refuse.includes(t)) };
  }
  async seenFromPeer(nodeId: string, id: string, deviceIds: string[]) {
    this.seen.push({ nodeId, id, deviceIds });
  }
  localDevices() {
    return this.devices;
  }
  onLocalDevicesChanged(fn: () => void) {
    this.devicesFns.add(fn);
    return () => {
      this.devicesFns.delete(fn);
    };
  }

  setDevices(devices: DirectoryDevice[]): void {
    this.devices = devices;
    for (const fn of this.devicesFns) fn();
  }
  queueEnvelope(nodeId: string, envelope: Envelope): number {
    const item: PeerOutboundItem = { seq: ++this.seq, kind: 'envelope', id: envelope.id, json: JSON.stringify(envelope) };
    this.outbox.set(nodeId, [...(this.outbox.get(nodeId) ?? []), item]);
    for (const fn of this.queuedFns) fn(nodeId);
    return item.seq;
  }
  queueSeen(nodeId: string, id: string, deviceIds: string[]): number {
    const item: PeerOutboundItem = { seq: ++this.seq, kind: 'seen', id, deviceIds };
    this.outbox.set(nodeId, [...(this.outbox.get(nodeId) ?? []), item]);
    for (const fn of this.queuedFns) fn(nodeId);
    return item.seq;
  }
}

export function device(id: string, name = id, kind: 'phone' | 'desktop' = 'phone'): DirectoryDevice {
  return { device_id: id, public_key: toBase64Url(x25519.getPublicKey(x25519.utils.randomSecretKey())), name, kind };
}

/** A valid v1 envelope (random bytes where the crypto would be: the link never opens envelopes). */
export function envelope(from: string, to: string[], ciphertextBytes = 32): Envelope {
  const b = (n: number) => toBase64Url(randomBytes(n));
  const sorted = [...to].sort();
  return {
    v: 1,
    id: uuidv7(),
    from_device: from,
    to: sorted,
    sent_at: new Date().toISOString(),
    header: { epk: b(32), kc: b(32), wraps: sorted.map(() => b(48)) },
    ciphertext: b(ciphertextBytes + 16),
  };
}

/** Two real desktops, A paired with B (A the pairing's initiator), each with a fake router port. */
export async function pairedDesktops(opts: Partial<NodeOptions> = {}) {
  const ra = new FakeRouterPort();
  const rb = new FakeRouterPort();
  const a = await startTestNode({ peerLink: FAST_PEER_LINK, peerLinkRouter: ra, ...opts });
  const b = await startTestNode({ peerLink: FAST_PEER_LINK, peerLinkRouter: rb, ...opts });
  await pairDesktops(a, b);
  return { a, b, ra, rb };
}

export async function pairDesktops(a: TestNode, b: TestNode): Promise<void> {
  const p = await b.startPairing();
  const r = await a.admin('/api/admin/pair-remote', { body: { url: loopbackUrl(p.url, b), pin: p.pin } });
  if (r.status !== 200) throw new Error(`pair-remote failed: ${JSON.stringify(r.body)}`);
}

export function linkUp(x: TestNode, y: TestNode): Promise<boolean> {
  return eventually(
    () => x.core.peerLinks!.isUp(y.identity.node_id) && y.core.peerLinks!.isUp(x.identity.node_id),
    'the peer link is up on both sides',
  );
}

/** The test itself as a desktop paired with `node` (the pairing's initiator): its keys and pairing secret. */
export async function fakeDesktop(node: TestNode, name = `Fake desktop ${Math.random().toString(36).slice(2, 7)}`) {
  const privateKey = x25519.utils.randomSecretKey();
  const publicKey = x25519.getPublicKey(privateKey);
  const nodeId = `desk-${uuidv7()}`;
  const start = await node.startPairing();
  const paired = await pairWithNode({
    baseUrl: node.base,
    code: start.code,
    pin: start.pin,
    expectedFingerprint: new URL(start.url).searchParams.get('fp')!,
    identity: {
      privateKey,
      publicKey,
      payload: {
        node_id: nodeId,
        name,
        capabilities: ['mesh'],
        device_info: { platform: 'test', app_version: '1.0.0' },
        // A port nothing listens on: the node's own dials to us fail, only ours reach it.
        public_key: toBase64Url(publicKey),
        port: 9,
        addresses: ['127.0.0.1'],
      },
    },
  });
  return { nodeId, name, privateKey, publicKey, sessionId: paired.sessionId, serverHmacKey: deriveServerHmacKey(paired.deviceSecret) };
}
export type FakeDesktop = Awaited<ReturnType<typeof fakeDesktop>>;

/** A hand-driven peer link from `me` to `node`; overrides make the handshake wrong on purpose. */
export async function rawPeer(
  node: TestNode,
  me: FakeDesktop,
  o: { serverHmacKey?: Uint8Array; privateKey?: Uint8Array; sessionId?: string; features?: string[] } = {},
) {
  const sessionId = o.sessionId ?? me.sessionId;
  const staticPriv = o.privateKey ?? me.privateKey;
  const hs = peerLinkHandshake({
    dialer: true,
    sessionId,
    selfNodeId: me.nodeId,
    peerNodeId: node.identity.node_id,
    staticKey: { privateKey: staticPriv, publicKey: x25519.getPublicKey(staticPriv) },
    peerPublicKey: fromBase64Url(node.identity.public_key),
    serverHmacKey: o.serverHmacKey ?? me.serverHmacKey,
  });
  const ws = new WebSocket(peerLinkUrl('127.0.0.1', node.port, sessionId, o.features), { maxPayload: 1 << 20 });
  const frames: PeerFrame[] = [];
  /** Blob bytes the node sent us, in order. */
  const blobData: BlobData[] = [];
  /** Every transport message we sent, in order (for replays). */
  const sent: Uint8Array[] = [];
  let cipher: FrameCipher | undefined;
  let upgradeStatus: number | undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('error', () => {});
    ws.on('unexpected-response', (_req, res) => {
      upgradeStatus = res.statusCode;
      res.resume();
      resolve({ code: -res.statusCode!, reason: 'http' });
      ws.terminate();
    });
  });
  let established!: () => void;
  const ready = new Promise<void>((r) => {
    established = r;
  });
  ws.on('open', () => ws.send(hs.writeMessage()));
  ws.on('message', (data: Buffer) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!cipher) {
      hs.readMessage(bytes);
      const t = hs.split();
      cipher = new FrameCipher(t.send, t.receive);
      established();
      return;
    }
    const f = cipher.open(bytes);
    if (f?.type === 'blob_data') blobData.push({ ...f, data: f.data.slice() });
    else if (f) frames.push(f);
  });
  const sendRaw = (m: Uint8Array) => ws.send(m);
  const send = (f: PeerFrame) => {
    for (const m of cipher!.seal(f)) {
      sent.push(m);
      sendRaw(m);
    }
  };
  return {
    ws,
    frames,
    blobData,
    /** Sends blob bytes as the node's peer would. */
    sendBlobData: (id: string, offset: number, data: Uint8Array) => {
      const m = cipher!.sealBlobData(id, offset, data);
      sent.push(m);
      sendRaw(m);
    },
    sent,
    closed,
    ready,
    send,
    sendRaw,
    get cipher() {
      return cipher;
    },
    get upgradeStatus() {
      return upgradeStatus;
    },
    /** Handshake done and the node's hello read; ours sent with `devices`. */
    async hello(devices: AnnouncedDevice[] = []) {
      await Promise.race([
        ready,
        closed.then((c) => {
          throw new Error(`closed before the handshake: ${c.code} ${c.reason}`);
        }),
      ]);
      send({ type: 'hello', node_id: me.nodeId, name: me.name, devices });
      await eventually(() => frames.some((f) => f.type === 'hello'), 'the node says hello');
    },
  };
}
