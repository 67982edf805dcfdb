// The phone-like client of the LAN test bed, run INSIDE its own host namespace:
//   ip netns exec <ns> node --import tsx tests/lan/phone.ts
// It does what the phone page does, with the shared client code (pairWithNode + DeviceClient, seal/open of
// src/shared/e2ee for messages), and keeps any
// number of identities ("installs") by label so a test can reinstall the app: a new key and node_id, same name.
import { x25519 } from '@noble/curves/ed25519.js';
import { v7 as uuidv7 } from 'uuid';
import { DeviceClient, type DeviceCredentials } from '../../src/shared/client/device-client.js';
import { PairingError, pairWithNode } from '../../src/shared/client/pairing-client.js';
import { type Envelope, open, seal } from '../../src/shared/e2ee/index.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/shared/encoding.js';
import type { NodeIdentityPayload } from '../../src/shared/wire/schemas.js';
import { type Command, emit, serveCommands } from './line-protocol.js';

interface Install {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  payload: NodeIdentityPayload;
  /** The session of the last pairing, and the base URL it was made through. */
  creds?: DeviceCredentials;
  base?: string;
}

const installs = new Map<string, Install>();

function install(label: string): Install {
  const i = installs.get(label);
  if (!i) throw new Error(`no install ${label}`);
  return i;
}

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.op) {
    case 'install': {
      // A fresh install of the app: its own X25519 key and node_id.
      const privateKey = x25519.utils.randomSecretKey();
      const publicKey = x25519.getPublicKey(privateKey);
      const payload: NodeIdentityPayload = {
        node_id: `phone-${uuidv7()}`,
        name: String(cmd.name ?? 'LAN Phone'),
        capabilities: ['posting'],
        device_info: { platform: String(cmd.platform ?? 'android'), app_version: '1.0.0' },
        public_key: toBase64Url(publicKey),
      };
      installs.set(String(cmd.label), { privateKey, publicKey, payload });
      return { node_id: payload.node_id, public_key: payload.public_key };
    }
    case 'pair': {
      // Opened the QR's URL: base from the URL, code and fingerprint from its query, PIN typed by the person.
      const i = install(String(cmd.label));
      const u = new URL(String(cmd.url));
      const code = u.searchParams.get('code');
      const fp = u.searchParams.get('fp');
      if (!code || !fp) throw new Error(`pairing URL lacks code/fp: ${u}`);
      try {
        const paired = await pairWithNode({
          baseUrl: u.origin,
          code,
          pin: String(cmd.pin),
          expectedFingerprint: fp,
          identity: { privateKey: i.privateKey, publicKey: i.publicKey, payload: i.payload },
        });
        i.creds = { sessionId: paired.sessionId, deviceSecret: paired.deviceSecret };
        i.base = u.origin;
        return { ok: true, node_id: i.payload.node_id, session_id: paired.sessionId, desktop: paired.desktop };
      } catch (err) {
        if (err instanceof PairingError) return { ok: false, code: err.code, message: err.message };
        throw err;
      }
    }
    case 'call': {
      // A signed request with this install's session; a fresh client each time, so a 401 does not make a
      // later call skip the network (the test wants the node's own answer every time).
      const i = install(String(cmd.label));
      if (!i.creds || !i.base) throw new Error(`install ${cmd.label} has no session`);
      const client = new DeviceClient(String(cmd.base ?? i.base), i.creds);
      return client.request(String(cmd.method), String(cmd.path), cmd.body);
    }
    case 'seal': {
      // What the phone page does before it sends: seal a text to one device's key (from its directory).
      const i = install(String(cmd.label));
      const plain = utf8.encode(JSON.stringify({ t: 'text', body: String(cmd.text) }));
      return seal(plain, {
        from: { device_id: i.payload.node_id, privateKey: i.privateKey, publicKey: i.publicKey },
        to: [{ device_id: String(cmd.to_device), publicKey: fromBase64Url(String(cmd.to_public_key)) }],
      });
    }
    case 'open': {
      // And on arrival: open an inbox envelope with the sender's key. A bad one is reported, never thrown.
      const i = install(String(cmd.label));
      try {
        const plain = open(cmd.envelope as Envelope, {
          me: { device_id: i.payload.node_id, privateKey: i.privateKey, publicKey: i.publicKey },
          senderPublicKey: fromBase64Url(String(cmd.from_public_key)),
        });
        const c = JSON.parse(utf8.decode(plain)) as { body?: unknown };
        return { ok: true, text: String(c.body) };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    }
    case 'get': {
      const res = await fetch(String(cmd.url), { signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep text */
      }
      return { status: res.status, body };
    }
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

emit({ ready: { pid: process.pid } });
serveCommands(handle, async () => undefined);
