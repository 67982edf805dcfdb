// Starts real nodes in this process on loopback ports with throw-away data dirs, and gives tests small,
// explicit HTTP helpers (an admin client like the desktop UI, a phone-like client).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { v7 as uuidv7 } from 'uuid';
import { type NodeOptions, type SalitaNode, startNode } from '../../src/main/core/node.js';
import { startPairingInitiator } from '../../src/shared/auth/pairing-handshake.js';
import { normalizeLinkingCode } from '../../src/shared/auth/pairing-keys.js';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { PairingError, pairWithNode } from '../../src/shared/client/pairing-client.js';
import { fromBase64Url, toBase64Url } from '../../src/shared/encoding.js';
import type { PairStartResponse } from '../../src/shared/wire/schemas.js';

export interface TestNode extends SalitaNode {
  base: string;
  /** Calls the node as its local desktop UI would (admin token, loopback). */
  admin(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  startPairing(): Promise<PairStartResponse>;
}

const cleanups: (() => Promise<void> | void)[] = [];

export function tempDir(prefix = 'salita-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startTestNode(opts: Partial<NodeOptions> = {}): Promise<TestNode> {
  const node = await startNode({ dataDir: opts.dataDir ?? tempDir(), port: 0, host: '127.0.0.1', mdns: false, ...opts });
  cleanups.push(() => node.stop());
  const base = `http://127.0.0.1:${node.port}`;
  const admin: TestNode['admin'] = async (path, init = {}) => {
    const res = await fetch(base + path, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Admin ${node.adminToken}`, 'content-type': 'application/json', ...init.headers },
      ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  };
  return Object.assign(node, {
    base,
    admin,
    startPairing: async () => {
      const r = await admin('/auth/pair/start', { body: {} });
      if (r.status !== 200) throw new Error(`pair/start failed: ${JSON.stringify(r.body)}`);
      return r.body as PairStartResponse;
    },
  });
}

/** Every file under `dir`, recursively (tests scan data dirs for what must not be there). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

/** Stops every node and removes every temp dir this test file made. Call from `after()`. */
export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

/** A phone as the phone page would be: its own X25519 identity, kept for the test's life. */
let phoneCount = 0;

/** Default names are unique: two phones with the same name and platform count as one device re-installed. */
export function makePhone(name = `Test Phone ${++phoneCount}`) {
  const privateKey = x25519.utils.randomSecretKey();
  const publicKey = x25519.getPublicKey(privateKey);
  const identity = {
    node_id: `phone-${uuidv7()}`,
    name,
    capabilities: ['posting'],
    device_info: { platform: 'test', app_version: '1.0.0' },
    public_key: toBase64Url(publicKey),
  };
  return { privateKey, publicKey, identity, pairing: { privateKey, publicKey, payload: identity } };
}

export type Phone = ReturnType<typeof makePhone>;

/**
 * Pairs a phone with a node the way the phone page does (fingerprint check + Noise handshake), returning a
 * signing client for its session. Throws PairingError with the node's error code on refusal.
 */
export async function pairPhone(
  node: TestNode,
  opts: { phone?: Phone; pin?: string; start?: PairStartResponse; code?: string; linkingCode?: string; fingerprint?: string } = {},
) {
  const phone = opts.phone ?? makePhone();
  const start = opts.start ?? (await node.startPairing());
  const codeArgs = opts.linkingCode !== undefined ? { linkingCode: opts.linkingCode } : { code: opts.code ?? start.code };
  const paired = await pairWithNode({
    baseUrl: node.base,
    ...codeArgs,
    pin: opts.pin ?? start.pin,
    expectedFingerprint: opts.fingerprint ?? new URL(start.url).searchParams.get('fp')!,
    identity: phone.pairing,
  });
  const lost: string[] = [];
  const creds = { sessionId: paired.sessionId, deviceSecret: paired.deviceSecret };
  const client = new DeviceClient(node.base, creds, { onSessionLost: (c) => lost.push(c) });
  /** A client that still holds the credentials (the real client forgets them on a 401), for attacks and re-checks. */
  const stubborn = (base = node.base) => new DeviceClient(base, creds);
  return { phone, paired, client, lost, start, creds, stubborn };
}

/** Expects a promise to fail with a PairingError of this code; returns the error for further checks. */
export async function pairingRefused(p: Promise<unknown>, code: string): Promise<PairingError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PairingError && err.code === code) return err;
    throw new Error(`expected PairingError ${code}, got ${err instanceof PairingError ? `${err.code}: ${err.message}` : String(err)}`);
  }
  throw new Error(`expected PairingError ${code}, but the pairing succeeded`);
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* leave as text: the assertion will show it */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Waits until `check` returns a truthy value; a generous overall limit, never a speed assertion. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, limitMs = 15_000): Promise<NonNullable<T>> {
  const until = Date.now() + limitMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Builds the device's first Noise message by hand (what pairWithNode does internally), so a test can send
 * exactly what it wants to /auth/pair/verify: any PIN, any identity payload, or raw bytes.
 */
export function craftPairing(node: TestNode, opts: { codeRef: string; pin: string; phone?: Phone; payload?: unknown }) {
  const phone = opts.phone ?? makePhone();
  const payload =
    opts.payload instanceof Uint8Array ? opts.payload : new TextEncoder().encode(JSON.stringify(opts.payload ?? phone.identity));
  const initiator = startPairingInitiator({
    staticPrivateKey: phone.privateKey,
    staticPublicKey: phone.publicKey,
    responderPublicKey: fromBase64Url(node.identity.public_key),
    codeRef: opts.codeRef,
    pin: opts.pin,
    payload,
  });
  return { phone, initiator, noise: toBase64Url(initiator.firstMessage) };
}

/** POSTs a hand-made first message; `code` or `linking_code` as given. */
export async function verifyRaw(
  node: TestNode,
  fields: { code?: string; linking_code?: string },
  opts: { pin: string; phone?: Phone; payload?: unknown },
) {
  const crafted = craftPairing(node, { codeRef: fields.code ?? normalizeLinkingCode(fields.linking_code!), ...opts });
  const r = await postJson(`${node.base}/auth/pair/verify`, { ...fields, noise: crafted.noise });
  return { ...r, crafted };
}

/** The QR/pairing URL carries a LAN address; test nodes listen on loopback. Same URL, pointed at 127.0.0.1. */
export function loopbackUrl(url: string, node: { port: number }): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(node.port);
  return u.toString();
}
