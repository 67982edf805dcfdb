// The node's blob store: files' ciphertext in <dataDir>/files (one file per blob, named by its id; tus keeps its
// upload record next to it as <id>.json), rows in blobs/blob_recipients. It checks the limits before a byte is
// accepted, appends what other nodes bring, serves byte ranges, and removes what nobody needs any more: partial
// uploads after their time, complete blobs once every recipient has them or after the retention time.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { diskFreeBytes, mib } from '../../../server/disk-space.js';
import type { BlobRepository, NewRecipient } from '../db/blob-repository.js';
import { DomainError } from '../errors/domain-error.js';
import type { BlobFiles, BlobRecipientRow, BlobRecipientState, BlobRemoval, BlobRoute, BlobRow, IncomingBlob } from './blob-ports.js';
import { DigestingFileStore, RunningDigests } from './running-digests.js';

export interface FileLimits {
  /** Largest file (ciphertext bytes) the node takes. */
  maxFileBytes: number;
  /** Bytes one device may have on this node at once (its complete and partial uploads). */
  deviceQuotaBytes: number;
  /** A partial blob older than this is removed. */
  partialTtlMs: number;
  /** A complete blob is kept at most this long, even if a recipient never fetched it. */
  retentionMs: number;
  /** Room left free on the disk whatever is uploaded. */
  diskReserveBytes: number;
  /** How often the sweep runs. */
  sweepIntervalMs: number;
}

export const DEFAULT_FILE_LIMITS: FileLimits = {
  maxFileBytes: 4 * 1024 ** 3 + 64 * 1024 ** 2,
  deviceQuotaBytes: 16 * 1024 ** 3,
  partialTtlMs: 24 * 3600_000,
  retentionMs: 30 * 24 * 3600_000,
  diskReserveBytes: 256 * 1024 ** 2,
  sweepIntervalMs: 10 * 60_000,
};

/** 16 random bytes as base64url: what a blob is called everywhere (says nothing about the file). */
export const newBlobId = (): string => randomBytes(16).toString('base64url');
export const BLOB_ID = /^[A-Za-z0-9_-]{22}$/;

export interface BlobStoreDeps {
  blobs: BlobRepository;
  dataDir: string;
  limits: FileLimits;
  log: Logger;
  now?: () => number;
  /** Free bytes on the files folder's disk (tests make a full disk). */
  freeBytes?: (dir: string) => number;
}

export class BlobStore implements BlobFiles {
  readonly dir: string;
  /** The tus data store over the same folder (uploads by devices go through the tus server). */
  readonly tusStore: DigestingFileStore;
  /** Each blob's SHA-256 so far, taken as its bytes are written (tus's and appendIncoming's writes). */
  private readonly digests = new RunningDigests();
  private readonly events = new EventEmitter();
  private readonly now: () => number;
  private readonly free: (dir: string) => number;
  /** One append at a time per blob. */
  private readonly appending = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: BlobStoreDeps) {
    this.dir = join(d.dataDir, 'files');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.tusStore = new DigestingFileStore(this.dir, this.digests);
    this.now = d.now ?? Date.now;
    this.free = d.freeBytes ?? diskFreeBytes;
    this.events.setMaxListeners(0);
  }

  get limits(): FileLimits {
    return this.d.limits;
  }

  start(): void {
    this.removeOrphans();
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.d.limits.sweepIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---- limits ------------------------------------------------------------------------------------------------

  /** Throws the DomainError a new blob of `size` bytes hits (max size, the device's quota, the disk). */
  checkRoom(size: number, fromDevice: string | undefined): void {
    const { maxFileBytes, deviceQuotaBytes, diskReserveBytes } = this.d.limits;
    if (size > maxFileBytes)
      throw new DomainError('file_too_large', `Files up to ${mib(maxFileBytes)} MiB can be sent through this node.`, {
        max_bytes: maxFileBytes,
      });
    if (fromDevice !== undefined) {
      const used = this.d.blobs.bytesFrom(fromDevice);
      if (used + size > deviceQuotaBytes)
        throw new DomainError(
          'quota_exceeded',
          `This device already has ${mib(used)} MiB waiting on this node; the limit is ${mib(deviceQuotaBytes)} MiB. Wait until earlier files are fetched, or cancel some.`,
          { used_bytes: used, quota_bytes: deviceQuotaBytes },
        );
    }
    const free = this.free(this.dir);
    if (free - diskReserveBytes < size)
      throw new DomainError('insufficient_storage', `The node's disk has ${mib(Math.max(0, free))} MiB free: not enough for this file.`, {
        free_bytes: Math.max(0, free),
      });
  }

  // ---- uploads by our devices (through tus) -------------------------------------------------------------------

  recordUpload(id: string, fromDevice: string, size: number, recipients: NewRecipient[]): void {
    this.d.blobs.insert({ id, size, fromDevice, origin: 'device', originNode: null, createdAt: this.now() }, recipients, 'waiting');
  }

  /** tus says the last byte is in: hash the ciphertext, record it complete, tell the transports. */
  async finishUpload(id: string): Promise<void> {
    const row = this.d.blobs.get(id);
    if (!row || row.completedAt !== null) return;
    await this.completeNow(row);
  }

  // ---- BlobFiles -----------------------------------------------------------------------------------------------

  get(id: string): BlobRow | undefined {
    return this.d.blobs.get(id);
  }

  recipients(id: string): BlobRecipientRow[] {
    return this.d.blobs.recipients(id);
  }

  recipientsByRoute(route: BlobRoute, state: BlobRecipientState, limit = 1000): BlobRecipientRow[] {
    return this.d.blobs.byRoute(route, state, limit);
  }

  setRecipientState(blobId: string, deviceIds: string[], state: BlobRecipientState): void {
    this.d.blobs.setState(blobId, deviceIds, state, this.now());
    if (state === 'received' || state === 'sent' || state === 'failed') void this.removeFinished();
  }

  received(id: string): number | undefined {
    if (!this.d.blobs.get(id)) return undefined;
    try {
      return statSync(this.path(id)).size;
    } catch {
      return 0;
    }
  }

  async beginIncoming(b: IncomingBlob): Promise<{ received: number }> {
    const existing = this.d.blobs.get(b.id);
    if (existing) {
      // The same blob again (a resumed transfer); anything else under its id is not ours to touch.
      if (existing.origin !== b.origin || existing.originNode !== (b.originNode ?? null) || existing.size !== b.size)
        throw new DomainError('blob_conflict', 'This node has another file under that id.');
      return { received: this.received(b.id) ?? 0 };
    }
    this.checkRoom(b.size, undefined);
    writeFileSync(this.path(b.id), new Uint8Array(0), { flag: 'a', mode: 0o600 });
    this.d.blobs.insert(
      { id: b.id, size: b.size, fromDevice: b.fromDevice, origin: b.origin, originNode: b.originNode ?? null, createdAt: this.now() },
      b.to.map((deviceId) => ({ deviceId, route: 'local' as const })),
      'waiting',
      b.ciphertextSha256 ?? null,
    );
    return { received: this.received(b.id) ?? 0 };
  }

  appendIncoming(id: string, offset: number, data: Uint8Array | Readable): Promise<number> {
    const prev = this.appending.get(id) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.appendNow(id, offset, data));
    this.appending.set(id, run);
    // The caller handles run's failure; this bookkeeping branch must not surface it a second time.
    run
      .finally(() => {
        if (this.appending.get(id) === run) this.appending.delete(id);
      })
      .catch(() => undefined);
    return run;
  }

  private async appendNow(id: string, offset: number, data: Uint8Array | Readable): Promise<number> {
    const row = this.d.blobs.get(id);
    if (!row) throw new DomainError('blob_unknown', 'No such file on this node.');
    const have = this.received(id) ?? 0;
    if (offset !== have)
      throw new DomainError('offset_mismatch', `This node holds ${have} bytes of that file, not ${offset}.`, { received: have });
    const source = data instanceof Uint8Array ? Readable.from([data]) : data;
    let written = 0;
    const limit = row.size - have;
    const hash = this.digests.begin(id, have);
    const counted = async function* (src: AsyncIterable<Uint8Array>) {
      for await (const chunk of src) {
        written += chunk.length;
        if (written > limit) throw new DomainError('file_too_large', 'More bytes than the file has.');
        hash?.update(chunk);
        yield chunk;
      }
    };
    try {
      await pipeline(source, counted, createWriteStream(this.path(id), { flags: 'r+', start: have }));
    } catch (err) {
      // Only whole, accepted writes count: cut back to where this append started.
      this.digests.drop(id);
      truncateTo(this.path(id), have);
      throw err;
    }
    const now = have + written;
    if (hash) this.digests.advance(id, now, hash);
    if (now === row.size && row.completedAt === null) await this.completeNow(row);
    return now;
  }

  cloudUploadUrl(id: string): string | undefined {
    return this.d.blobs.cloudUploadUrl(id);
  }

  setCloudUploadUrl(id: string, url: string | undefined): void {
    if (url !== undefined && !this.d.blobs.get(id)) return;
    this.d.blobs.setCloudUploadUrl(id, url, this.now());
  }

  read(id: string, start: number, end: number): Readable {
    if (end <= start) return Readable.from([]);
    return createReadStream(this.path(id), { start, end: end - 1 });
  }

  onComplete(fn: (blob: BlobRow) => void): () => void {
    this.events.on('complete', fn);
    return () => this.events.off('complete', fn);
  }

  onRemoved(fn: (blobId: string, why: BlobRemoval) => void): () => void {
    this.events.on('removed', fn);
    return () => this.events.off('removed', fn);
  }

  async remove(id: string, why: BlobRemoval = 'cancelled'): Promise<void> {
    const had = this.d.blobs.get(id) !== undefined;
    this.digests.drop(id);
    this.d.blobs.remove(id);
    rmSync(this.path(id), { force: true });
    rmSync(`${this.path(id)}.json`, { force: true });
    if (had) this.emit('removed', id, why);
  }

  // ---- housekeeping -------------------------------------------------------------------------------------------

  async sweep(): Promise<void> {
    try {
      const now = this.now();
      for (const id of this.d.blobs.expired(now - this.d.limits.partialTtlMs, now - this.d.limits.retentionMs)) {
        this.d.log.info({ blob: id }, 'a file expired on this node: removed');
        await this.remove(id, 'expired');
      }
      await this.removeFinished();
      // A cancel or an expiry that crossed a tus creation still writing its file leaves that file behind.
      this.removeOrphans();
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'the files sweep failed; trying again later');
    }
  }

  private async removeFinished(): Promise<void> {
    for (const id of this.d.blobs.finished(100)) await this.remove(id, 'finished');
  }

  /** Files without a row (a crash between writing and recording, or rows lost with a new database). */
  private removeOrphans(): void {
    const known = new Set(this.d.blobs.all().map((b) => b.id));
    for (const name of readdirSync(this.dir)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : name;
      if (!known.has(id) && BLOB_ID.test(id)) {
        // A tus upload whose creation is still being recorded has its file written first: give it a minute (or
        // the partial time, if that is shorter: such an upload would have expired by then anyway).
        let age: number;
        try {
          age = this.now() - statSync(join(this.dir, name)).mtimeMs;
        } catch {
          continue;
        }
        if (age > Math.min(60_000, this.d.limits.partialTtlMs)) rmSync(join(this.dir, name), { force: true });
      }
    }
  }

  private async completeNow(row: BlobRow): Promise<void> {
    // The digest taken as the bytes were written, when it covers the whole file that is there; else a read.
    const kept = this.digests.take(row.id, row.size);
    const digest = kept !== undefined && this.received(row.id) === row.size ? kept : await this.hashFile(row.id);
    // A blob from another node was announced with its digest: bytes that hash otherwise are not kept at all.
    if (row.ciphertextSha256 !== null && row.ciphertextSha256 !== digest) {
      await this.remove(row.id, 'refused');
      throw new DomainError('blob_digest_mismatch', 'The file that arrived does not match the one that was announced; it was discarded.');
    }
    this.d.blobs.complete(row.id, digest, this.now());
    const done = this.d.blobs.get(row.id);
    if (done) this.emit('complete', done);
  }

  private async hashFile(id: string): Promise<string> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(this.path(id)), async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) hash.update(c);
    });
    return hash.digest('hex');
  }

  private emit(event: 'complete' | 'removed', ...args: unknown[]): void {
    for (const fn of this.events.listeners(event)) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message, event }, 'a blob listener failed');
      }
    }
  }

  path(id: string): string {
    if (!BLOB_ID.test(id)) throw new DomainError('blob_unknown', 'No such file on this node.');
    return join(this.dir, id);
  }
}

/** Cuts a blob's file back to `size` bytes (bytes that were not accepted must not count as received). */
export function truncateTo(path: string, size: number): void {
  try {
    truncateSync(path, size);
  } catch {
    // Gone already: nothing to cut.
  }
}
