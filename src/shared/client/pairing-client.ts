// The device side of pairing (phone page, a desktop pairing with another desktop, tests). Browser-safe.
// 1. fetch the node's public key and refuse it unless it matches the fingerprint we were given;
// 2. run the Noise IKpsk1 handshake over POST /auth/pair/verify with the PIN as pre-shared key;
// 3. derive the device secret that signs every later request.

import { startPairingInitiator } from '../auth/pairing-handshake.js';
import {
  deriveDeviceSecret,
  normalizeLinkingCode,
  PAIR_REQUEST_CODE_REF,
  PAIR_REQUEST_PSK_INPUT,
  shortAuthString,
} from '../auth/pairing-keys.js';
import type { NoiseSuite } from '../crypto/noise/index.js';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding.js';
import { fingerprintOf, normalizeFingerprint, sameFingerprint } from '../fingerprint.js';
import {
  type DesktopNode,
  type NodeIdentityPayload,
  NodeIdentityResponse,
  PairCodeStateResponse,
  PairVerifyResponse,
  PairVerifyResult,
} from '../wire/schemas.js';

export class PairingError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly details: Record<string, unknown> = {},
    /** The node's HTTP status when it refused the pairing itself (pin_mismatch, code_expired...). */
    public readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'PairingError';
  }
}

export interface PairingIdentity {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  payload: NodeIdentityPayload;
}

export interface PairingOptions {
  baseUrl: string;
  /** The long code from a QR/URL; or the linking code typed from the other screen. */
  code?: string;
  linkingCode?: string;
  pin: string;
  /** From the QR/URL or an mDNS record; the pairing is refused if the node's key does not match. */
  expectedFingerprint?: string;
  identity: PairingIdentity;
  fetch?: typeof fetch;
  /** Faster Noise functions where they exist (node:crypto in the node); browsers use @noble's. */
  suite?: NoiseSuite;
}

export interface PairingSuccess {
  desktop: DesktopNode;
  sessionId: string;
  deviceSecret: Uint8Array;
  expiresAt: string;
  handshakeHash: Uint8Array;
  /** Set when both people must compare this 6-digit code before the pairing is active. */
  sas?: string;
}

async function getJson(f: typeof fetch, url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await f(url, init);
  } catch (err) {
    throw new PairingError('peer_unreachable', `Could not reach ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    throw new PairingError('peer_rejected', `${url} did not answer with JSON (HTTP ${res.status}).`);
  }
}

/**
 * A pairing code's state and the desktop that issued it, asked before the PIN (it spends no attempt). Undefined
 * when the node cannot say (unreachable, rate-limited, an older node without the route): then the PIN decides.
 */
export async function pairingCodeState(baseUrl: string, code: string, f: typeof fetch = fetch): Promise<PairCodeStateResponse | undefined> {
  try {
    const res = await f(`${baseUrl}/auth/pair/codes/${encodeURIComponent(code)}`, { cache: 'no-store' });
    if (!res.ok) return undefined;
    const parsed = PairCodeStateResponse.safeParse(await res.json());
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function pairWithNode(o: PairingOptions): Promise<PairingSuccess> {
  if (o.code === undefined && o.linkingCode === undefined)
    throw new PairingError('invalid_request', 'A pairing code or linking code is needed.');
  const codeRef = o.code ?? normalizeLinkingCode(o.linkingCode!);
  return handshakeWith(o, {
    codeRef,
    pin: o.pin,
    path: '/auth/pair/verify',
    body: o.code !== undefined ? { code: o.code } : { linking_code: normalizeLinkingCode(o.linkingCode!) },
  });
}

export type PairRequestOptions = Omit<PairingOptions, 'code' | 'linkingCode' | 'pin'>;

/**
 * A pair request (docs/protocol.md, "Pair requests"): the same handshake over POST /auth/pair/request with the
 * fixed code_ref and psk input. The session it creates is pending until the other node's person accepts; the
 * result always carries the SAS both screens show.
 */
export async function requestPairing(o: PairRequestOptions): Promise<PairingSuccess & { sas: string }> {
  const done = await handshakeWith(o, {
    codeRef: PAIR_REQUEST_CODE_REF,
    pin: PAIR_REQUEST_PSK_INPUT,
    path: '/auth/pair/request',
    body: {},
  });
  return { ...done, sas: shortAuthString(done.handshakeHash) };
}

async function handshakeWith(
  o: PairRequestOptions,
  h: { codeRef: string; pin: string; path: string; body: Record<string, string> },
): Promise<PairingSuccess> {
  const f = o.fetch ?? fetch;
  const expected = o.expectedFingerprint ? normalizeFingerprint(o.expectedFingerprint) : null;
  if (o.expectedFingerprint && !expected) throw new PairingError('invalid_request', 'The fingerprint is malformed.');

  const ident = await getJson(f, `${o.baseUrl}/api/node/identity`);
  const parsedIdent = NodeIdentityResponse.safeParse(ident.body);
  if (ident.status !== 200 || !parsedIdent.success) throw new PairingError('peer_rejected', 'That address is not a Salita node.');
  let nodeKey: Uint8Array;
  try {
    nodeKey = fromBase64Url(parsedIdent.data.public_key);
    fingerprintOf(nodeKey);
  } catch {
    throw new PairingError('peer_rejected', 'The node sent a malformed public key.');
  }
  // The fingerprint is computed here from the key itself; what the node *claims* as its fingerprint is ignored.
  if (expected && !sameFingerprint(fingerprintOf(nodeKey), expected)) {
    throw new PairingError(
      'fingerprint_mismatch',
      `The node answering at this address is not the one whose code you have (its key has fingerprint ${fingerprintOf(nodeKey)}). Not pairing.`,
    );
  }

  const initiator = startPairingInitiator({
    staticPrivateKey: o.identity.privateKey,
    staticPublicKey: o.identity.publicKey,
    responderPublicKey: nodeKey,
    codeRef: h.codeRef,
    pin: h.pin,
    payload: utf8.encode(JSON.stringify(o.identity.payload)),
    ...(o.suite ? { suite: o.suite } : {}),
  });
  const verify = await getJson(f, `${o.baseUrl}${h.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      ...h.body,
      noise: toBase64Url(initiator.firstMessage),
    }),
  });
  if (verify.status !== 200) {
    const b = verify.body as { error?: string; message?: string };
    throw new PairingError(
      b?.error ?? 'peer_rejected',
      b?.message ?? `Pairing failed (HTTP ${verify.status}).`,
      b as Record<string, unknown>,
      verify.status,
    );
  }
  const reply = PairVerifyResponse.safeParse(verify.body);
  if (!reply.success) throw new PairingError('peer_rejected', 'The node answered the pairing with an unexpected body.');
  let finished: ReturnType<typeof initiator.finish>;
  try {
    finished = initiator.finish(fromBase64Url(reply.data.noise));
  } catch (err) {
    throw new PairingError('handshake_failed', `The node's answer failed the handshake check (${(err as Error).message}). Not pairing.`);
  }
  let result: PairVerifyResult;
  try {
    result = PairVerifyResult.parse(JSON.parse(utf8.decode(finished.payload)));
  } catch {
    throw new PairingError('peer_rejected', "The node's encrypted answer is not a pairing result.");
  }
  if (result.desktop_node.public_key !== parsedIdent.data.public_key || result.desktop_node.node_id !== parsedIdent.data.node_id) {
    throw new PairingError('fingerprint_mismatch', 'The node that answered is not the one that was checked. Not pairing.');
  }
  const deviceSecret = deriveDeviceSecret(
    finished.handshakeSecret,
    finished.handshakeHash,
    o.identity.payload.node_id,
    result.desktop_node.node_id,
  );
  return {
    desktop: result.desktop_node,
    sessionId: result.session_id,
    deviceSecret,
    expiresAt: result.expires_at,
    handshakeHash: finished.handshakeHash,
    ...(result.confirmation ? { sas: shortAuthString(finished.handshakeHash) } : {}),
  };
}
