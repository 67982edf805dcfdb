// Desktop <-> desktop, initiator side: this node pairs with another desktop using what that desktop's
// screen shows (its pairing URL with fingerprint, or — after mDNS discovery — its linking code), plus the
// PIN; or, with a pair request, nothing but its address (the other desktop's person accepts). The handshake is the same one a phone runs (shared/client/pairing-client.ts).
import { NODE_NOISE_SUITE } from '../../../server/crypto/node-noise.js';
import { PairingError, type PairingSuccess, pairWithNode, requestPairing } from '../../../shared/client/pairing-client.js';
import { ERROR_CODES, type ErrorCode } from '../../../shared/wire/errors.js';
import type { PairRequestCreate } from '../../../shared/wire/pair-request.js';
import type { NodeIdentityPayload, PairRemoteRequest } from '../../../shared/wire/schemas.js';
import { DomainError } from '../errors/domain-error.js';
import { hostForUrl } from '../net/lan-addresses.js';
import { RemotePairingError } from './remote-pairing-error.js';

export interface RemoteTarget {
  host: string;
  port: number;
  code?: string;
  linkingCode?: string;
  fingerprint?: string;
}

export function targetFromRequest(req: PairRemoteRequest): RemoteTarget {
  if (req.url !== undefined) {
    const u = new URL(req.url);
    if (u.protocol !== 'http:') throw new DomainError('invalid_request', 'The pairing URL must start with http://');
    const code = u.searchParams.get('code');
    if (!code) throw new DomainError('invalid_request', 'The pairing URL has no code= parameter.');
    const fp = u.searchParams.get('fp') ?? req.fingerprint;
    return {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : 80,
      code,
      ...(fp ? { fingerprint: fp } : {}),
    };
  }
  return { host: req.host!, port: req.port!, linkingCode: req.linking_code!, ...(req.fingerprint ? { fingerprint: req.fingerprint } : {}) };
}

export async function pairWithRemote(
  target: RemoteTarget,
  pin: string,
  self: { privateKey: Uint8Array; publicKey: Uint8Array; payload: NodeIdentityPayload },
): Promise<PairingSuccess> {
  try {
    return await pairWithNode({
      suite: NODE_NOISE_SUITE,
      baseUrl: baseUrlOf(target),
      ...(target.code ? { code: target.code } : {}),
      ...(target.linkingCode ? { linkingCode: target.linkingCode } : {}),
      ...(target.fingerprint ? { expectedFingerprint: target.fingerprint } : {}),
      pin,
      identity: self,
      fetch: withTimeout,
    });
  } catch (err) {
    throw relayed(err, target);
  }
}

/** Where a pair request goes: a discovered desktop / typed host:port (fingerprint optional), or B's pairing link. */
export function targetFromPairRequest(req: PairRequestCreate): RemoteTarget {
  if ('url' in req) {
    const u = new URL(req.url);
    if (u.protocol !== 'http:') throw new DomainError('invalid_request', 'The pairing link must start with http://');
    const fp = u.searchParams.get('fp');
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 80, ...(fp ? { fingerprint: fp } : {}) };
  }
  return { host: req.host, port: req.port, ...(req.fingerprint ? { fingerprint: req.fingerprint } : {}) };
}

/** Sends a pair request (docs/protocol.md, "Pair requests"); B's verdict is passed through as for pairWithRemote. */
export async function sendPairRequest(
  target: RemoteTarget,
  self: { privateKey: Uint8Array; publicKey: Uint8Array; payload: NodeIdentityPayload },
): Promise<PairingSuccess & { sas: string }> {
  try {
    return await requestPairing({
      suite: NODE_NOISE_SUITE,
      baseUrl: baseUrlOf(target),
      ...(target.fingerprint ? { expectedFingerprint: target.fingerprint } : {}),
      identity: self,
      fetch: withTimeout,
    });
  } catch (err) {
    throw relayed(err, target);
  }
}

export function baseUrlOf(target: RemoteTarget): string {
  return `http://${hostForUrl(target.host)}:${target.port}`;
}

const withTimeout = ((input: RequestInfo | URL, init?: RequestInit) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(10_000) })) as typeof fetch;

function relayed(err: unknown, target: RemoteTarget): unknown {
  if (!(err instanceof PairingError)) return err;
  // Pass the other node's verdict through (pin_mismatch with attempts_left, code_expired...): the person
  // needs the same words the phone page would show.
  const code = (ERROR_CODES as readonly string[]).includes(err.code) ? (err.code as ErrorCode) : 'peer_rejected';
  const { error: _e, message: _m, ...extra } = err.details as Record<string, unknown>;
  return new RemotePairingError(code, err.message, { ...extra, peer: `${target.host}:${target.port}` }, err.httpStatus);
}
