// Pairing, responder side: the desktop shows a code (QR + PIN); a device proves it saw the screen by running
// a Noise IKpsk1 handshake keyed with the PIN over POST /auth/pair/verify. In the same exchange each side
// learns who the other is (a two-way identity exchange), encrypted (docs/protocol.md).
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import { NODE_NOISE_SUITE } from '../../../server/crypto/node-noise.js';
import { acceptPairing, isWrongKeyError } from '../../../shared/auth/pairing-handshake.js';
import { deriveDeviceSecret, PAIR_REQUEST_CODE_REF, PAIR_REQUEST_PSK_INPUT, shortAuthString } from '../../../shared/auth/pairing-keys.js';
import { deriveServerHmacKey } from '../../../shared/auth/request-signing.js';
import { fromBase64Url, toBase64Url, utf8 } from '../../../shared/encoding.js';
import { fingerprintOf, normalizeFingerprint } from '../../../shared/fingerprint.js';
import {
  type DesktopNode,
  NodeIdentityPayload,
  type PairCodeStateResponse,
  type PairStartResponse,
  type PairVerifyRequest,
  type PairVerifyResult,
  type PendingPairingView,
} from '../../../shared/wire/schemas.js';
import { DEFAULT_LIMITS, type NodeLimits, type NodeTimings } from '../config.js';
import type { MeshRepository } from '../db/mesh-repository.js';
import type { PairingCodeRepository, PairingCodeRow } from '../db/pairing-code-repository.js';
import type { SessionRepository } from '../db/session-repository.js';
import { DomainError } from '../errors/domain-error.js';
import type { PairedCandidate } from '../mesh/mesh-service.js';
import { hostForUrl } from '../net/lan-addresses.js';
import { PendingConfirmations } from './pending-confirmations.js';
import { generateLinkingCode, generatePairingCode, generatePin, normalizeLinkingCode } from './pin.js';

export interface PairingContext {
  self(): DesktopNode;
  port(): number;
  staticKey(): { privateKey: Uint8Array; publicKey: Uint8Array };
  /** The addresses this node offers (QR candidate URLs), in preference order. */
  advertisedAddresses(): string[];
  /** Every non-loopback address of this node (one may be asked for explicitly even if not advertised). */
  lanAddresses(): string[];
  /** Re-pair after reinstall: removes the rows the new device replaces (see MeshService.replaceStale). */
  replaceStale?(candidate: PairedCandidate, keepSessionId: string): unknown;
}

export interface PairingOutcome {
  /** base64url of the handshake's second message: the HTTP response body's `noise`. */
  noise: string;
  nodeId: string;
  name: string;
  code: string;
  /** Set when the pairing waits for the person to compare codes (linking-code pairing). */
  pending?: PendingPairingView;
}

/** A fresh pairing code and the URLs that carry it; the HTTP edge draws the QR of `url`. */
export type PairingStarted = Omit<PairStartResponse, 'qr_svg'>;

interface IncomingPending {
  peer: NodeIdentityPayload;
  peerAddress: string | undefined;
  sessionId: string;
}

export class PairingService {
  readonly pending = new PendingConfirmations<IncomingPending>();

  constructor(
    private readonly codes: PairingCodeRepository,
    private readonly mesh: MeshRepository,
    private readonly sessions: SessionRepository,
    private readonly ctx: PairingContext,
    private readonly timings: NodeTimings,
    private readonly log: Logger,
    private readonly limits: NodeLimits = DEFAULT_LIMITS,
  ) {}

  /** Bounds pairing_codes and device_sessions (node.ts runs it on a timer; start and verify run it too). */
  prune(now = Date.now()): void {
    this.codes.prune(now, this.limits.pairingCodeKeepMs, this.limits.maxPairingCodeRows);
    this.sessions.prune({
      now,
      keepMs: this.limits.revokedSessionKeepMs,
      pendingMaxAgeMs: this.timings.pairingTtlMs + 60_000,
      maxPerDevice: this.limits.maxSessionsPerDevice,
      maxDeadRows: this.limits.maxDeadSessionRows,
    });
  }

  /** Rows in pairing_codes: all, and those still usable (tests, diagnostics). */
  codeCounts(now = Date.now()): { rows: number; live: number } {
    return { rows: this.codes.count(), live: this.codes.liveCount(now) };
  }

  start(requestedAddress?: string): PairingStarted {
    const addrs = this.ctx.advertisedAddresses();
    const all = this.ctx.lanAddresses();
    if (requestedAddress !== undefined && !all.includes(requestedAddress)) {
      throw new DomainError('invalid_request', `${requestedAddress} is not one of this node's LAN addresses (${all.join(', ') || 'none'})`);
    }
    // Without any LAN address, fall back to the mDNS host name so the QR is still meaningful on the LAN.
    const hosts = requestedAddress ? [requestedAddress, ...addrs.filter((a) => a !== requestedAddress)] : addrs;
    if (hosts.length === 0) hosts.push(`${osHostname()}.local`);

    const now = Date.now();
    this.codes.prune(now, this.limits.pairingCodeKeepMs, this.limits.maxPairingCodeRows - 1);
    this.codes.expireOldLive(now, this.limits.maxLivePairingCodes - 1);
    const row = this.codes.insert({
      code: generatePairingCode(),
      linkingCode: generateLinkingCode(),
      pin: generatePin(),
      expiresAt: now + this.timings.pairingTtlMs,
    });
    const self = this.ctx.self();
    const fp = normalizeFingerprint(self.fingerprint)!;
    const urlFor = (h: string) => `http://${hostForUrl(h)}:${this.ctx.port()}/pair?code=${row.code}&fp=${fp}`;
    const candidate_urls = hosts.map(urlFor);
    const url = candidate_urls[0]!;
    this.log.info({ linking_code: row.linkingCode, expires_at: new Date(row.expiresAt).toISOString() }, 'pairing code issued');
    return {
      code: row.code,
      pin: row.pin,
      linking_code: row.linkingCode,
      url,
      candidate_urls,
      expires_at: new Date(row.expiresAt).toISOString(),
      fingerprint: self.fingerprint,
    };
  }

  /**
   * A code's state as the page carrying it may know it before asking for the PIN: reads only, so no attempt
   * is spent and nothing secret (PIN, linking code, attempts) is in the answer.
   */
  codeState(code: string, now = Date.now()): PairCodeStateResponse {
    const self = this.ctx.self();
    const desktop = { name: self.name, fingerprint: self.fingerprint };
    const row = this.codes.byCode(code);
    if (!row) return { state: 'unknown', desktop };
    if (row.status === 'used') return { state: 'used', desktop };
    if (row.status === 'locked') return { state: 'locked', desktop };
    const expires_at = new Date(row.expiresAt).toISOString();
    return { state: row.expiresAt <= now ? 'expired' : 'open', expires_at, desktop };
  }

  /** Finds the code a verify request names, or fails with the precise reason it can't be used. */
  private usableCode(req: PairVerifyRequest, now: number): PairingCodeRow {
    const byCode = req.code !== undefined ? this.codes.byCode(req.code) : undefined;
    const byLinking = req.linking_code !== undefined ? this.codes.byLinkingCode(normalizeLinkingCode(req.linking_code)) : undefined;
    const row = byCode ?? byLinking;
    if (
      !row ||
      (req.code !== undefined && !byCode) ||
      (req.linking_code !== undefined && !byLinking) ||
      (byCode && byLinking && byCode.code !== byLinking.code)
    ) {
      throw new DomainError('code_unknown', 'This pairing code is not known to this node. Ask for a new code on the desktop.');
    }
    if (row.status === 'used') throw new DomainError('code_used', 'This pairing code was already used. Ask for a new code on the desktop.');
    if (row.status === 'locked')
      throw new DomainError('code_locked', 'Too many wrong PINs: this pairing code is locked. Ask for a new code on the desktop.');
    if (row.expiresAt <= now) throw new DomainError('code_expired', 'This pairing code has expired. Ask for a new code on the desktop.');
    return row;
  }

  private wrongPin(row: PairingCodeRow): never {
    const after = this.codes.recordFailure(row.code, this.timings.maxPinAttempts);
    if (!after) throw new DomainError('code_unknown', 'This pairing code is not known to this node. Ask for a new code on the desktop.');
    const attemptsLeft = Math.max(0, this.timings.maxPinAttempts - after.failedAttempts);
    this.log.warn({ linking_code: row.linkingCode, attempts_left: attemptsLeft }, 'wrong pairing PIN');
    throw new DomainError(
      'pin_mismatch',
      attemptsLeft === 0
        ? 'Wrong PIN. That was the last attempt: this pairing code is now locked. Ask for a new code on the desktop.'
        : `Wrong PIN. ${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left.`,
      { attempts_left: attemptsLeft },
    );
  }

  verify(req: PairVerifyRequest, peerAddress: string | undefined): PairingOutcome {
    const row = this.usableCode(req, Date.now());
    // The code the device used is bound into the prologue and the psk; a linking-code pairing can't know the long code.
    const viaLinkingCode = req.code === undefined;
    const codeRef = viaLinkingCode ? row.linkingCode : row.code;
    let message: Uint8Array;
    try {
      message = fromBase64Url(req.noise);
    } catch {
      throw new DomainError('handshake_failed', 'The pairing message is not valid base64url.');
    }
    let responder: ReturnType<typeof acceptPairing>;
    try {
      responder = acceptPairing({ ...this.ctx.staticKey(), codeRef, pin: row.pin, firstMessage: message, suite: NODE_NOISE_SUITE });
    } catch (err) {
      // The PIN is the psk: with a wrong PIN the first message's payload fails its AEAD tag. A tampered
      // message fails the same way and counts the same: both are attempts on this code.
      if (isWrongKeyError(err)) this.wrongPin(row);
      throw new DomainError('handshake_failed', `The pairing message is malformed: ${(err as Error).message}`);
    }

    const peer = this.peerIdentity(responder);
    const self = this.ctx.self();
    if (!this.codes.consume(row.code, peer.node_id)) {
      throw new DomainError('code_used', 'This pairing code was already used. Ask for a new code on the desktop.');
    }

    const sessionId = toBase64Url(randomBytes(16));
    const expiresAt = Date.now() + this.timings.sessionTtlMs;
    const result: PairVerifyResult = {
      ok: true,
      session_id: sessionId,
      expires_at: new Date(expiresAt).toISOString(),
      desktop_node: self,
      ...(viaLinkingCode ? { confirmation: { required: true as const } } : {}),
    };
    const reply = responder.reply(utf8.encode(JSON.stringify(result)));
    const deviceSecret = deriveDeviceSecret(reply.handshakeSecret, reply.handshakeHash, peer.node_id, self.node_id);
    // Only the derived verification key is kept; the device secret itself is dropped here.
    this.sessions.create(
      peer.node_id,
      deriveServerHmacKey(deviceSecret),
      this.timings.sessionTtlMs,
      viaLinkingCode ? 'pending' : 'active',
      sessionId,
    );

    const outcome: PairingOutcome = { noise: toBase64Url(reply.message), nodeId: peer.node_id, name: peer.name, code: row.code };
    if (viaLinkingCode) {
      const view = this.holdForPerson({ peer, peerAddress, sessionId }, responder.remoteStaticKey, reply.handshakeHash);
      this.pruneSessionsQuietly();
      this.log.info({ node_id: peer.node_id }, 'pairing waits for the person to compare codes');
      return { ...outcome, pending: view };
    }
    this.storePeer(peer, peerAddress, sessionId);
    this.pruneSessionsQuietly();
    return outcome;
  }

  /** The initiator's node_identity from the first message, checked against the key that ran the handshake. */
  private peerIdentity(responder: ReturnType<typeof acceptPairing>): NodeIdentityPayload {
    let peerJson: unknown;
    try {
      peerJson = JSON.parse(utf8.decode(responder.payload));
    } catch {
      throw new DomainError('invalid_request', 'The encrypted node_identity is not JSON.');
    }
    const parsed = NodeIdentityPayload.safeParse(peerJson);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new DomainError(
        'invalid_request',
        `node_identity is invalid: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'}.`,
      );
    }
    const peer = parsed.data;
    if (peer.node_id === this.ctx.self().node_id) throw new DomainError('invalid_request', 'A node cannot pair with itself.');
    // The identity must be the key that ran the handshake, or anyone could claim any key.
    if (peer.public_key !== toBase64Url(responder.remoteStaticKey)) {
      throw new DomainError('invalid_request', 'node_identity.public_key is not the key that ran the handshake.');
    }
    return peer;
  }

  /**
   * Another desktop asks to pair (POST /auth/pair/request, docs/protocol.md "Pair requests"). The handshake runs
   * with the fixed code_ref and psk, so anyone can send one: the session it creates stays pending and nothing is
   * stored until the person here accepts the prompt (confirm), having compared the SAS. Bounded: a repeated
   * request from the same node replaces its older one (whose session is revoked), the list is capped, each expires.
   */
  request(noise: string, peerAddress: string | undefined): { noise: string; pending: PendingPairingView } {
    let message: Uint8Array;
    try {
      message = fromBase64Url(noise);
    } catch {
      throw new DomainError('handshake_failed', 'The pairing message is not valid base64url.');
    }
    let responder: ReturnType<typeof acceptPairing>;
    try {
      responder = acceptPairing({
        ...this.ctx.staticKey(),
        codeRef: PAIR_REQUEST_CODE_REF,
        pin: PAIR_REQUEST_PSK_INPUT,
        firstMessage: message,
        suite: NODE_NOISE_SUITE,
      });
    } catch (err) {
      // A wrong pinned key (the sender's idea of our key is not ours) fails here too: es is not what we compute.
      throw new DomainError('handshake_failed', `The pair request's handshake failed: ${(err as Error).message}`);
    }
    const peer = this.peerIdentity(responder);
    if (peer.port === undefined)
      throw new DomainError('invalid_request', 'Only a desktop (a node_identity with a port) can send a pair request.');
    for (const old of this.pending.list()) {
      if (old.node_id === peer.node_id && old.direction === 'incoming') {
        const item = this.pending.take(old.pairing_id);
        if (item) this.sessions.revoke(item.data.sessionId);
      }
    }
    const self = this.ctx.self();
    const sessionId = toBase64Url(randomBytes(16));
    const expiresAt = Date.now() + this.timings.sessionTtlMs;
    const result: PairVerifyResult = {
      ok: true,
      session_id: sessionId,
      expires_at: new Date(expiresAt).toISOString(),
      desktop_node: self,
      confirmation: { required: true },
    };
    const reply = responder.reply(utf8.encode(JSON.stringify(result)));
    const deviceSecret = deriveDeviceSecret(reply.handshakeSecret, reply.handshakeHash, peer.node_id, self.node_id);
    this.sessions.create(peer.node_id, deriveServerHmacKey(deviceSecret), this.timings.sessionTtlMs, 'pending', sessionId);
    const view = this.holdForPerson({ peer, peerAddress, sessionId }, responder.remoteStaticKey, reply.handshakeHash, {
      status: 'waiting',
    });
    this.pruneSessionsQuietly();
    this.log.info({ node_id: peer.node_id, name: peer.name }, 'pair request waits for the person to accept');
    return { noise: toBase64Url(reply.message), pending: view };
  }

  /** An incoming pairing waits for the person: listed with the code both screens show, until confirmed or expired. */
  private holdForPerson(
    data: IncomingPending,
    remoteStaticKey: Uint8Array,
    handshakeHash: Uint8Array,
    extra: Partial<PendingPairingView> = {},
  ): PendingPairingView {
    const view: PendingPairingView = {
      pairing_id: data.sessionId,
      direction: 'incoming',
      node_id: data.peer.node_id,
      name: data.peer.name,
      fingerprint: fingerprintOf(remoteStaticKey),
      sas: shortAuthString(handshakeHash),
      expires_at: new Date(Date.now() + this.timings.pairingTtlMs).toISOString(),
      ...extra,
    };
    this.pending.add({ view, expiresAt: Date.parse(view.expires_at), data });
    return view;
  }

  /** After a pairing the table is bounded at once, not only at the next timer tick; a failure here is logged, never the pairing's. */
  private pruneSessionsQuietly(): void {
    try {
      this.prune();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not prune pairing codes and sessions');
    }
  }

  /** The person confirmed that both screens show the same code: the pairing becomes real. */
  confirm(pairingId: string): { nodeId: string; name: string } {
    const item = this.pending.take(pairingId);
    if (item?.view.direction !== 'incoming')
      throw new DomainError('pairing_not_pending', 'No pairing is waiting for confirmation under that id (it may have expired).');
    // Activated first: a session the other side already ended (it withdrew its request) must not pair anything.
    if (!this.sessions.activate(item.data.sessionId))
      throw new DomainError('pairing_not_pending', `${item.data.peer.name} withdrew this pairing (or it expired).`);
    this.storePeer(item.data.peer, item.data.peerAddress, item.data.sessionId);
    return { nodeId: item.data.peer.node_id, name: item.data.peer.name };
  }

  reject(pairingId: string): void {
    const item = this.pending.take(pairingId);
    if (!item) throw new DomainError('pairing_not_pending', 'No pairing is waiting for confirmation under that id (it may have expired).');
    this.sessions.revoke(item.data.sessionId);
    this.log.warn({ node_id: item.data.peer.node_id }, 'pairing rejected by the person (codes did not match?)');
  }

  private storePeer(peer: NodeIdentityPayload, peerAddress: string | undefined, keepSessionId: string): void {
    const kind = peer.port !== undefined ? 'desktop' : 'phone';
    // Re-pair after a reinstall: the same device under a new key or node_id replaces its old row (sessions
    // revoked, our link on it dropped, a notice for the person); never two rows for one device.
    this.ctx.replaceStale?.(
      { id: peer.node_id, name: peer.name, kind, publicKey: peer.public_key, deviceInfo: peer.device_info },
      keepSessionId,
    );
    // A re-pair of a known device (e.g. after its app was reset) starts from a clean slate of sessions.
    this.sessions.revokeAllFor(peer.node_id, keepSessionId);
    this.mesh.upsertPeer({
      id: peer.node_id,
      name: peer.name,
      kind,
      hostname: peerAddress ?? null,
      port: peer.port ?? null,
      capabilities: peer.capabilities,
      metadata: peer.device_info,
      publicKey: peer.public_key,
      addresses: [...(peerAddress ? [peerAddress] : []), ...(peer.addresses ?? [])],
      paired: true,
      seen: true,
    });
    this.log.info({ node_id: peer.node_id, kind, name: peer.name }, 'device paired');
  }
}
