// Prekey claims over the peer link: a device of this home served by another desktop is claimed from that
// desktop's store (prekey_claim -> prekey_bundle | prekey_refused). Each claim waits for its answer at most
// `timeoutMs`, and a link going down ends every claim on it at once: the caller answers 503 and the initiator
// claims again later (a claim is never resent here: the other side may already have handed a one-time key out).
import { randomBytes } from 'node:crypto';
import { toBase64Url } from '../../../shared/encoding.js';
import type { PeerFrame, PrekeyFrame } from '../../../shared/wire/peer-link.js';
import type { PrekeyBundle } from '../../../shared/wire/prekeys.js';

export type PeerClaimResult =
  | { ok: true; bundle: PrekeyBundle }
  | { ok: false; error: 'no_prekeys' | 'unknown_recipient' | 'peer_unreachable' };

/** What the serving side answers from: its own store, for devices it serves (else unknown_recipient). */
export type LocalPrekeyClaim = (deviceId: string) => PrekeyBundle | 'no_prekeys' | 'unknown_recipient';

/** Most claims one link may have waiting here at once: a claim storm cannot hold unbounded timers. */
const MAX_PENDING_PER_NODE = 64;

interface Pending {
  nodeId: string;
  timer: NodeJS.Timeout;
  resolve: (r: PeerClaimResult) => void;
}

export class PeerPrekeyClaims {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly d: {
      send: (nodeId: string, frame: PeerFrame) => void;
      isUp: (nodeId: string) => boolean;
      answer: LocalPrekeyClaim | undefined;
      timeoutMs: number;
    },
  ) {}

  /** Claims a bundle for `deviceId` from the desktop `nodeId` serves it on. Never throws. */
  claim(nodeId: string, deviceId: string): Promise<PeerClaimResult> {
    if (!this.d.isUp(nodeId)) return Promise.resolve({ ok: false, error: 'peer_unreachable' });
    let waiting = 0;
    for (const p of this.pending.values()) if (p.nodeId === nodeId) waiting++;
    if (waiting >= MAX_PENDING_PER_NODE) return Promise.resolve({ ok: false, error: 'peer_unreachable' });
    const requestId = toBase64Url(randomBytes(12));
    return new Promise<PeerClaimResult>((resolve) => {
      const timer = setTimeout(() => this.settle(requestId, { ok: false, error: 'peer_unreachable' }), this.d.timeoutMs);
      timer.unref();
      this.pending.set(requestId, { nodeId, timer, resolve });
      try {
        this.d.send(nodeId, { type: 'prekey_claim', request_id: requestId, device_id: deviceId });
      } catch {
        this.settle(requestId, { ok: false, error: 'peer_unreachable' });
      }
    });
  }

  /** A prekey frame from `nodeId` (its hello already in). */
  handle(nodeId: string, f: PrekeyFrame): void {
    if (f.type === 'prekey_claim') {
      let r: ReturnType<LocalPrekeyClaim>;
      try {
        r = this.d.answer ? this.d.answer(f.device_id) : 'unknown_recipient';
      } catch {
        // The store failed (disk): no answer; the claimer gives up after its timeout, the link stays.
        return;
      }
      this.d.send(
        nodeId,
        typeof r === 'string'
          ? { type: 'prekey_refused', request_id: f.request_id, error: r }
          : { type: 'prekey_bundle', request_id: f.request_id, bundle: r },
      );
      return;
    }
    const p = this.pending.get(f.request_id);
    // An answer to a claim we did not send (or already gave up on) from this peer is dropped.
    if (!p || p.nodeId !== nodeId) return;
    this.settle(f.request_id, f.type === 'prekey_bundle' ? { ok: true, bundle: f.bundle } : { ok: false, error: f.error });
  }

  /** The link to `nodeId` went down: its claims cannot be answered any more. */
  linkDown(nodeId: string): void {
    for (const [id, p] of [...this.pending]) if (p.nodeId === nodeId) this.settle(id, { ok: false, error: 'peer_unreachable' });
  }

  stop(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, { ok: false, error: 'peer_unreachable' });
  }

  private settle(requestId: string, r: PeerClaimResult): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    p.resolve(r);
  }
}
