// Files over the peer link (docs/files.md, "Over the peer link"). The node holding a complete blob for devices
// of a paired desktop offers it (blob_offer); the receiving desktop pulls it in bounded reads (blob_read, at most
// MAX_BLOB_READS of MAX_BLOB_READ_BYTES outstanding, the next asked only once the last is on disk), appends what
// arrives to its blob store and, once the whole ciphertext is there and hashes to the offered SHA-256, says
// blob_have. A new link (after a drop, a restart of either side) offers again and the pull resumes from the bytes
// the receiver has. The sender serves only blobs it offered to that desktop; the receiver takes only blobs from
// the peer's own devices for devices it serves itself, and only the bytes it asked for.
import type { Logger } from 'pino';
import { concatBytes } from '../../../shared/encoding.js';
import { type BlobData, type BlobFrame, MAX_BLOB_READ_BYTES, MAX_BLOB_READS, PEER_CLOSE } from '../../../shared/wire/peer-link.js';
import { DomainError } from '../errors/domain-error.js';
import type { BlobFiles, BlobRow } from '../files/blob-ports.js';
import { LinkError, MAX_BLOB_DATA_BYTES } from './frame-cipher.js';

/** What the transfer needs of the links: send on the current link to a node (a no-op when it is down). */
export interface BlobLinkPort {
  send(nodeId: string, frame: BlobFrame): void;
  sendData(nodeId: string, id: string, offset: number, data: Uint8Array): void;
  /** Bytes the node's socket has not sent yet. */
  buffered(nodeId: string): number;
  isUp(nodeId: string): boolean;
  /** Nodes with an up link. */
  upNodes(): string[];
}

export interface PeerBlobTransferDeps {
  files: BlobFiles;
  link: BlobLinkPort;
  /** The node that serves a device (the home directory), undefined for devices nobody announced. */
  nodeOf(deviceId: string): string | undefined;
  /** This node serves the device itself. */
  servesDevice(deviceId: string): boolean;
  log: Logger;
}

/** The sender stops reading the file while this much is waiting in the socket. */
const SEND_BUFFER_HIGH = 2 * MAX_BLOB_READ_BYTES;

interface Pending {
  offset: number;
  length: number;
  parts: Uint8Array[];
  got: number;
}

/** One blob this node is pulling from one peer. */
interface Pull {
  id: string;
  nodeId: string;
  size: number;
  /** Offset of the next read to ask for. */
  next: number;
  /** Reads asked for and not yet all here, oldest first. */
  pending: Pending[];
  /** Reads whose bytes are here, being written. */
  writing: number;
  aborted: boolean;
  /** The sender said the blob is gone while we were still registering it. */
  gone: boolean;
}

/** What one peer asked us to send, served one read after the other. */
interface Serving {
  queue: { id: string; offset: number; length: number }[];
  running: boolean;
  generation: number;
}

export class PeerBlobTransfer {
  /** Per peer: the blob being pulled now, and offers waiting their turn. */
  private readonly pulls = new Map<string, { active: Pull | undefined; waiting: BlobFrame[] }>();
  /** Per blob id: the writes of an earlier pull of it (a new pull starts after they settle). */
  private readonly settling = new Map<string, Promise<unknown>>();
  private readonly serving = new Map<string, Serving>();
  private readonly cleanups: (() => void)[] = [];

  constructor(private readonly d: PeerBlobTransferDeps) {}

  start(): void {
    this.cleanups.push(
      this.d.files.onComplete((b) => {
        if (b.origin === 'device') this.offerBlob(b);
      }),
      // A blob that went because everyone has it needs no word, nor one the store refused (the pull that brought
      // it says so itself); a cancelled or expired one stops its pulls and the peers hear it.
      this.d.files.onRemoved((id, why) => {
        if (why === 'cancelled' || why === 'expired') this.gone(id);
      }),
    );
  }

  stop(): void {
    for (const c of this.cleanups.splice(0)) c();
    for (const nodeId of [...this.pulls.keys(), ...this.serving.keys()]) this.linkDown(nodeId);
  }

  // ---- link events ----------------------------------------------------------------------------------------------

  /** A link to `nodeId` is up: offer it everything that is waiting for its devices. */
  linkUp(nodeId: string): void {
    const byBlob = new Map<string, string[]>();
    for (const r of this.d.files.recipientsByRoute('lan', 'waiting')) {
      if (r.nodeId !== nodeId) continue;
      byBlob.set(r.blobId, [...(byBlob.get(r.blobId) ?? []), r.deviceId]);
    }
    for (const [id, to] of byBlob) {
      const b = this.d.files.get(id);
      if (b?.completedAt != null && b.ciphertextSha256) this.offer(nodeId, b, to);
    }
  }

  /** The link to `nodeId` is gone: what was asked or being served on it is dropped (the next link starts over). */
  linkDown(nodeId: string): void {
    const p = this.pulls.get(nodeId);
    if (p?.active) p.active.aborted = true;
    this.pulls.delete(nodeId);
    const s = this.serving.get(nodeId);
    if (s) {
      s.generation++;
      s.queue = [];
    }
  }

  /** A blob frame or blob bytes from `nodeId`. Throws LinkError when the peer broke the protocol. */
  async handle(nodeId: string, f: BlobFrame | BlobData): Promise<void> {
    switch (f.type) {
      case 'blob_offer':
        return this.offered(nodeId, f);
      case 'blob_read':
        return this.readAsked(nodeId, f);
      case 'blob_data':
        return this.data(nodeId, f);
      case 'blob_have':
        return this.settled(nodeId, f.id, 'sent');
      case 'blob_refused':
        this.d.log.warn({ node_id: nodeId, blob: f.id, error: f.error, message: f.message }, 'the other desktop refused a file');
        return this.settled(nodeId, f.id, 'failed');
      case 'blob_gone':
        return this.goneThere(nodeId, f.id);
    }
  }

  // ---- the sending side -------------------------------------------------------------------------------------------

  private offerBlob(b: BlobRow): void {
    const byNode = new Map<string, string[]>();
    for (const r of this.d.files.recipients(b.id)) {
      if (r.route !== 'lan' || r.state !== 'waiting' || !r.nodeId) continue;
      byNode.set(r.nodeId, [...(byNode.get(r.nodeId) ?? []), r.deviceId]);
    }
    for (const [nodeId, to] of byNode) if (this.d.link.isUp(nodeId)) this.offer(nodeId, b, to);
  }

  private offer(nodeId: string, b: BlobRow, to: string[]): void {
    if (!b.ciphertextSha256) return;
    this.d.link.send(nodeId, { type: 'blob_offer', id: b.id, size: b.size, sha256: b.ciphertextSha256, from_device: b.fromDevice, to });
  }

  /** The devices of `nodeId` this blob was offered to (none: we never offered it there). */
  private offeredTo(id: string, nodeId: string): string[] {
    return this.d.files
      .recipients(id)
      .filter((r) => r.route === 'lan' && r.nodeId === nodeId)
      .map((r) => r.deviceId);
  }

  private readAsked(nodeId: string, f: { id: string; offset: number; length: number }): void {
    const b = this.d.files.get(f.id);
    if (!b || b.completedAt == null || this.offeredTo(f.id, nodeId).length === 0) {
      // Cancelled or expired since the offer (or never ours to give): the peer drops what it has.
      this.d.link.send(nodeId, { type: 'blob_gone', id: f.id });
      return;
    }
    if (f.offset + f.length > b.size) throw new LinkError(PEER_CLOSE.protocol, 'bad_blob_read', 'a read past the end of the blob');
    let s = this.serving.get(nodeId);
    if (!s) {
      s = { queue: [], running: false, generation: 0 };
      this.serving.set(nodeId, s);
    }
    if (s.queue.length >= MAX_BLOB_READS)
      throw new LinkError(PEER_CLOSE.flood, 'too_many_reads', `more than ${MAX_BLOB_READS} reads outstanding`);
    s.queue.push(f);
    if (!s.running) void this.serve(nodeId, s);
  }

  private async serve(nodeId: string, s: Serving): Promise<void> {
    s.running = true;
    const gen = s.generation;
    try {
      while (s.queue.length > 0 && s.generation === gen) {
        const r = s.queue[0]!;
        let offset = r.offset;
        for await (const chunk of this.d.files.read(r.id, r.offset, r.offset + r.length) as AsyncIterable<Uint8Array>) {
          for (let i = 0; i < chunk.length; i += MAX_BLOB_DATA_BYTES) {
            if (s.generation !== gen) return;
            const part = chunk.subarray(i, i + MAX_BLOB_DATA_BYTES);
            this.d.link.sendData(nodeId, r.id, offset, part);
            offset += part.length;
          }
          while (this.d.link.buffered(nodeId) > SEND_BUFFER_HIGH && s.generation === gen) await sleep(5);
        }
        s.queue.shift();
      }
    } catch (err) {
      // The file went away under the read (cancelled while being sent): the peer hears it is gone.
      this.d.log.info({ node_id: nodeId, err: (err as Error).message }, 'a file could not be read for the other desktop');
      const id = s.queue[0]?.id;
      s.queue = [];
      if (id) this.d.link.send(nodeId, { type: 'blob_gone', id });
    } finally {
      s.running = false;
    }
  }

  private settled(nodeId: string, id: string, state: 'sent' | 'failed'): void {
    const devices = this.offeredTo(id, nodeId);
    if (devices.length > 0) this.d.files.setRecipientState(id, devices, state);
  }

  /** A blob went from this node: every up link hears it (a receiver drops only blobs that came from us). */
  private gone(id: string): void {
    for (const nodeId of this.pulls.keys()) this.abortPull(nodeId, id);
    for (const nodeId of this.d.link.upNodes()) this.d.link.send(nodeId, { type: 'blob_gone', id });
  }

  // ---- the receiving side -----------------------------------------------------------------------------------------

  private async offered(nodeId: string, f: Extract<BlobFrame, { type: 'blob_offer' }>): Promise<void> {
    if (this.d.nodeOf(f.from_device) !== nodeId)
      throw new LinkError(PEER_CLOSE.refused, 'sender_not_peer_device', `from_device ${f.from_device} is not one of the peer's devices`);
    const to = f.to.filter((id) => this.d.servesDevice(id));
    if (to.length === 0) return this.refuse(nodeId, f.id, 'unknown_recipient', 'None of these devices is served by this desktop.');
    const existing = this.d.files.get(f.id);
    if (existing && (existing.origin !== 'lan' || existing.originNode !== nodeId || existing.size !== f.size))
      return this.refuse(nodeId, f.id, 'blob_conflict', 'This desktop has another file under that id.');
    if (existing?.completedAt != null) {
      this.d.link.send(nodeId, { type: 'blob_have', id: f.id });
      return;
    }
    let q = this.pulls.get(nodeId);
    if (!q) {
      q = { active: undefined, waiting: [] };
      this.pulls.set(nodeId, q);
    }
    if (q.active?.id === f.id || q.waiting.some((w) => w.id === f.id)) return;
    q.waiting.push({ ...f, to });
    if (!q.active) await this.nextPull(nodeId);
  }

  private async nextPull(nodeId: string): Promise<void> {
    const q = this.pulls.get(nodeId);
    if (!q || q.active) return;
    const f = q.waiting.shift() as Extract<BlobFrame, { type: 'blob_offer' }> | undefined;
    if (!f) return;
    const pull: Pull = { id: f.id, nodeId, size: f.size, next: 0, pending: [], writing: 0, aborted: false, gone: false };
    q.active = pull;
    try {
      await this.settling.get(f.id)?.catch(() => undefined);
      const { received } = await this.d.files.beginIncoming({
        id: f.id,
        size: f.size,
        fromDevice: f.from_device,
        origin: 'lan',
        originNode: nodeId,
        ciphertextSha256: f.sha256,
        to: f.to,
      });
      if (pull.aborted) {
        if (pull.gone) await this.d.files.remove(f.id);
        return;
      }
      pull.next = received;
      if (received >= f.size) return this.finished(pull);
      this.askMore(pull);
    } catch (err) {
      this.failed(pull, err);
    }
  }

  private askMore(pull: Pull): void {
    while (!pull.aborted && pull.next < pull.size && pull.pending.length + pull.writing < MAX_BLOB_READS) {
      const length = Math.min(MAX_BLOB_READ_BYTES, pull.size - pull.next);
      pull.pending.push({ offset: pull.next, length, parts: [], got: 0 });
      this.d.link.send(pull.nodeId, { type: 'blob_read', id: pull.id, offset: pull.next, length });
      pull.next += length;
    }
  }

  private data(nodeId: string, f: BlobData): void {
    const pull = this.pulls.get(nodeId)?.active;
    const req = pull?.pending[0];
    if (!pull || !req || f.id !== pull.id || f.offset !== req.offset + req.got || req.got + f.data.length > req.length) {
      // Late bytes of a pull we dropped (the blob went, or was refused) are harmless; anything else is a broken peer.
      if (pull === undefined || f.id !== pull.id) return;
      throw new LinkError(PEER_CLOSE.protocol, 'unexpected_blob_data', 'blob bytes that were not asked for');
    }
    // The frame's bytes live in a buffer the next message reuses only after this returns: keep a copy.
    req.parts.push(f.data.slice());
    req.got += f.data.length;
    if (req.got < req.length) return;
    pull.pending.shift();
    pull.writing++;
    const write = this.d.files.appendIncoming(pull.id, req.offset, concatBytes(req.parts, req.got));
    this.settling.set(pull.id, write);
    write.then(
      (have) => {
        pull.writing--;
        if (pull.aborted) return;
        if (have >= pull.size) this.finished(pull);
        else this.askMore(pull);
      },
      (err) => {
        pull.writing--;
        this.failed(pull, err);
      },
    );
  }

  private finished(pull: Pull): void {
    this.d.link.send(pull.nodeId, { type: 'blob_have', id: pull.id });
    this.done(pull);
  }

  private failed(pull: Pull, err: unknown): void {
    if (pull.aborted) return;
    const code = err instanceof DomainError ? err.code : 'storage_failed';
    this.d.log.warn(
      { node_id: pull.nodeId, blob: pull.id, err: (err as Error).message },
      'a file from the other desktop could not be taken',
    );
    this.refuse(pull.nodeId, pull.id, code, (err as Error).message);
    // Nothing that looks complete stays: a refused blob's bytes go (the store removes a digest mismatch itself).
    if (code !== 'blob_conflict') void this.d.files.remove(pull.id);
    this.done(pull);
  }

  private refuse(nodeId: string, id: string, error: string, message: string): void {
    this.d.link.send(nodeId, {
      type: 'blob_refused',
      id,
      error: /^[a-z_]{1,64}$/.test(error) ? error : 'refused',
      message: message.slice(0, 500),
    });
  }

  private done(pull: Pull): void {
    pull.aborted = true;
    const q = this.pulls.get(pull.nodeId);
    if (q?.active === pull) {
      q.active = undefined;
      void this.nextPull(pull.nodeId);
    }
  }

  private abortPull(nodeId: string, id: string): void {
    const q = this.pulls.get(nodeId);
    if (!q) return;
    q.waiting = q.waiting.filter((w) => w.id !== id);
    if (q.active?.id === id) this.done(q.active);
  }

  /** The peer no longer has a blob it offered us: drop our partial copy (never one that came from elsewhere). */
  private async goneThere(nodeId: string, id: string): Promise<void> {
    const active = this.pulls.get(nodeId)?.active;
    if (active?.id === id) active.gone = true;
    this.abortPull(nodeId, id);
    const b = this.d.files.get(id);
    if (b && b.origin === 'lan' && b.originNode === nodeId && b.completedAt == null) {
      await this.settling.get(id)?.catch(() => undefined);
      await this.d.files.remove(id);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
