// Pairing: the desktop shows a code (QR + PIN), a device proves it saw the screen by sending the PIN,
// and in the same exchange each side learns who the other is (seed 002's two-way identity exchange).
import QRCode from 'qrcode';
import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import { fingerprintOf, normalizeFingerprint } from '../../../shared/fingerprint.js';
import { fromBase64Url } from '../../../shared/encoding.js';
import type { DesktopNode, PairStartResponse, PairVerifyRequest } from '../../../shared/wire/schemas.js';
import type { NodeTimings } from '../config.js';
import { ApiError } from '../http/api-error.js';
import type { MeshRepository } from '../db/mesh-repository.js';
import type { PairingCodeRepository, PairingCodeRow } from '../db/pairing-code-repository.js';
import type { SessionRepository } from '../db/session-repository.js';
import { hostForUrl, lanAddresses } from '../net/lan-addresses.js';
import { generateLinkingCode, generatePairingCode, generatePin, normalizeLinkingCode, pinsEqual } from './pin.js';

export interface PairingContext {
  self(): DesktopNode;
  port(): number;
}

export interface PairingOutcome {
  response: { ok: true; session_token: string; desktop_node: DesktopNode };
  nodeId: string;
  name: string;
  code: string;
  /** Sessions of an earlier pairing of the same device, now revoked. */
  revokedSessionIds: string[];
}

export class PairingService {
  constructor(
    private readonly codes: PairingCodeRepository,
    private readonly mesh: MeshRepository,
    private readonly sessions: SessionRepository,
    private readonly ctx: PairingContext,
    private readonly timings: NodeTimings,
    private readonly log: Logger,
  ) {}

  async start(requestedAddress?: string): Promise<PairStartResponse> {
    const addrs = lanAddresses().map((a) => a.address);
    if (requestedAddress !== undefined && !addrs.includes(requestedAddress)) {
      throw new ApiError(400, 'invalid_request', `${requestedAddress} is not one of this node's LAN addresses (${addrs.join(', ') || 'none'})`);
    }
    // Without any LAN address, fall back to the mDNS host name so the QR is still meaningful on the LAN.
    const hosts = requestedAddress ? [requestedAddress, ...addrs.filter((a) => a !== requestedAddress)] : addrs;
    if (hosts.length === 0) hosts.push(`${osHostname()}.local`);

    const now = Date.now();
    this.codes.prune(now, 24 * 3600_000);
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
    const qr_svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
    this.log.info({ linking_code: row.linkingCode, expires_at: new Date(row.expiresAt).toISOString() }, 'pairing code issued');
    return {
      code: row.code, pin: row.pin, linking_code: row.linkingCode, url, candidate_urls, qr_svg,
      expires_at: new Date(row.expiresAt).toISOString(), fingerprint: self.fingerprint,
    };
  }

  /** Finds the code a verify request names, or fails with the precise reason it can't be used. */
  private usableCode(req: PairVerifyRequest, now: number): PairingCodeRow {
    const byCode = req.code !== undefined ? this.codes.byCode(req.code) : undefined;
    const byLinking = req.linking_code !== undefined ? this.codes.byLinkingCode(normalizeLinkingCode(req.linking_code)) : undefined;
    const row = byCode ?? byLinking;
    if (!row || (req.code !== undefined && !byCode) || (byCode && byLinking && byCode.code !== byLinking.code)
        || (req.code !== undefined && req.linking_code !== undefined && !byLinking)) {
      throw new ApiError(404, 'code_unknown', 'This pairing code is not known to this node. Ask for a new code on the desktop.');
    }
    if (row.status === 'used') throw new ApiError(409, 'code_used', 'This pairing code was already used. Ask for a new code on the desktop.');
    if (row.status === 'locked') throw new ApiError(423, 'code_locked', 'Too many wrong PINs: this pairing code is locked. Ask for a new code on the desktop.');
    if (row.expiresAt <= now) throw new ApiError(410, 'code_expired', 'This pairing code has expired. Ask for a new code on the desktop.');
    return row;
  }

  verify(req: PairVerifyRequest, peerAddress: string | undefined): PairingOutcome {
    const now = Date.now();
    const row = this.usableCode(req, now);
    if (!pinsEqual(row.pin, req.pin)) {
      const after = this.codes.recordFailure(row.code, this.timings.maxPinAttempts);
      const attemptsLeft = Math.max(0, this.timings.maxPinAttempts - after.failedAttempts);
      this.log.warn({ linking_code: row.linkingCode, attempts_left: attemptsLeft }, 'wrong pairing PIN');
      if (attemptsLeft === 0) throw new ApiError(401, 'pin_mismatch', 'Wrong PIN. That was the last attempt: this pairing code is now locked. Ask for a new code on the desktop.', { attempts_left: 0 });
      throw new ApiError(401, 'pin_mismatch', `Wrong PIN. ${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left.`, { attempts_left: attemptsLeft });
    }

    const peer = req.node_identity;
    const self = this.ctx.self();
    if (peer.node_id === self.node_id) throw new ApiError(400, 'invalid_request', 'A node cannot pair with itself.');
    try {
      fingerprintOf(fromBase64Url(peer.public_key));
    } catch {
      throw new ApiError(400, 'invalid_request', 'node_identity.public_key is not a 32-byte key.');
    }
    if (!this.codes.consume(row.code, peer.node_id)) {
      throw new ApiError(409, 'code_used', 'This pairing code was already used. Ask for a new code on the desktop.');
    }

    const kind = peer.port !== undefined ? 'desktop' : 'phone';
    const addresses = [...(peerAddress ? [peerAddress] : []), ...(peer.addresses ?? [])];
    // A re-pair of a known device (e.g. after its app was reset) starts from a clean slate of sessions.
    const revokedSessionIds = this.sessions.revokeAllFor(peer.node_id);
    this.mesh.upsertPeer({
      id: peer.node_id, name: peer.name, kind, hostname: peerAddress ?? null, port: peer.port ?? null,
      capabilities: peer.capabilities, metadata: peer.device_info, publicKey: peer.public_key, addresses,
      paired: true, seen: true,
    });
    const { token } = this.sessions.create(peer.node_id, this.timings.sessionTtlMs);
    this.log.info({ node_id: peer.node_id, kind, name: peer.name }, 'device paired');
    return {
      response: { ok: true, session_token: token, desktop_node: self },
      nodeId: peer.node_id, name: peer.name, code: row.code, revokedSessionIds,
    };
  }
}
