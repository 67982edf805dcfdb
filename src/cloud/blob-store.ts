// The cloud's blob store (docs/cloud.md "Blobs"): file ciphertext between homes, named by its SHA-256. Partial tus
// uploads live in <dataDir>/blobs/uploads (tus's file store: `<id>` + `<id>.json`), complete blobs in
// <dataDir>/blobs/complete/<sha256>; the rows are cloud_blob_uploads, cloud_blobs and cloud_blob_deliveries.
// An upload only becomes a blob once the cloud has hashed what it stored and found the digest the sender
// declared: nothing that looks complete is ever kept otherwise. The store checks the limits before a byte is
// accepted and removes what nobody needs: partial uploads after their time, a blob once every recipient node has
// it or after the retention time. Bytes are only ever streamed, never held whole.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { diskFreeBytes, mib } from '../server/disk-space.js';
import { type BlobDelivery, type BlobRecipients, INCOMING_BLOBS_PAGE, type IncomingCloudBlob } from '../shared/wire/cloud-blobs.js';
import type { CloudSql, SqlQuery } from './db/sql.js';
import { CloudError } from './errors.js';
import type { Logger } from './log.js';

export interface CloudBlobLimits {
  /** Largest blob (ciphertext bytes): a 4 GiB file plus its STREAM tags. */
  maxBlobBytes: number;
  /** Bytes one account (today: one node) may hold at once: the blobs it uploaded plus its partial uploads. */
  accountQuotaBytes: number;
  /** Unfinished uploads one node may have at once (each is a row and a file). */
  maxPartialUploadsPerNode: number;
  /** A partial upload older than this is removed. */
  partialTtlMs: number;
  /** A complete blob is kept at most this long, even if a recipient never fetched it. */
  retentionMs: number;
  /** Room left free on the disk whatever is uploaded. */
  diskReserveBytes: number;
  /** How often the expiry sweep runs. */
  sweepIntervalMs: number;
}

export const DEFAULT_CLOUD_BLOB_LIMITS: CloudBlobLimits = {
  maxBlobBytes: 4 * 1024 ** 3 + 64 * 1024 ** 2,
  accountQuotaBytes: 16 * 1024 ** 3,
  maxPartialUploadsPerNode: 64,
  partialTtlMs: 24 * 3600_000,
  retentionMs: 30 * 24 * 3600_000,
  diskReserveBytes: 256 * 1024 ** 2,
  sweepIntervalMs: 10 * 60_000,
};

/**
 * What an operator may set without code (`npm run cloud`): SALITA_CLOUD_BLOB_MAX_BYTES, SALITA_CLOUD_BLOB_QUOTA_BYTES
 * (per account), SALITA_CLOUD_BLOB_RETENTION_DAYS. A value that is not a positive whole number stops the start.
 */
export function blobLimitsFromEnv(env: NodeJS.ProcessEnv): Partial<CloudBlobLimits> {
  const read = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, not ${JSON.stringify(raw)}`);
    return n;
  };
  const max = read('SALITA_CLOUD_BLOB_MAX_BYTES');
  const quota = read('SALITA_CLOUD_BLOB_QUOTA_BYTES');
  const days = read('SALITA_CLOUD_BLOB_RETENTION_DAYS');
  return {
    ...(max !== undefined ? { maxBlobBytes: max } : {}),
    ...(quota !== undefined ? { accountQuotaBytes: quota } : {}),
    ...(days !== undefined ? { retentionMs: days * 24 * 3600_000 } : {}),
  };
}

/** A tus upload id: 16 random bytes, base64url (a sha256 is 64 hex digits, so the two never look alike). */
export const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;
export const newUploadId = (): string => randomBytes(16).toString('base64url');
const SHA256 = /^[0-9a-f]{64}$/;

export interface CloudBlobStoreDeps {
  sql: CloudSql;
  dataDir: string;
  limits: CloudBlobLimits;
  log: Logger;
  now?: () => number;
  /** Free bytes on the blobs folder's disk (tests make a full disk). */
  freeBytes?: (dir: string) => number;
  /** Whether a node may send to another (Accounts.canSee); everyone when absent. */
  mayReach?: (fromNode: string, toNode: string) => Promise<boolean>;
}

export interface UploadRow {
  id: string;
  node: string;
  sha256: string;
  size: number;
  recipients: string;
  ref: string;
  fromDevice: string;
  createdAt: string;
  completedAt: string | null;
}
export interface BlobRow {
  sha256: string;
  size: number;
  uploader: string;
  completedAt: string;
}
type DeliveryRow = { devices: string; receivedAt: string | null };

const UPLOAD_COLUMNS =
  'id, node, sha256, size, recipients, ref, from_device AS "fromDevice", created_at AS "createdAt", completed_at AS "completedAt"';
const BLOB_COLUMNS = 'sha256, size, uploader, completed_at AS "completedAt"';
/** One blob's rows change one transaction at a time (a finish, an offer, a withdraw, a removal), on any instance. */
const blobLock = (sha256: string) => `blob:${sha256}`;
/** What a finished upload came to: a blob (`complete`), bytes that did not hash to the declared digest, or nothing. */
export type FinishResult = 'complete' | 'digest_mismatch' | 'gone' | 'partial';

export interface NewUpload extends BlobDelivery {
  sha256: string;
  size: number;
}

const sizeOf = (path: string): number | undefined => {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
};

export class CloudBlobStore {
  readonly uploadsDir: string;
  readonly completeDir: string;
  private readonly now: () => number;
  private readonly free: (dir: string) => number;
  /** One check of a finished upload at a time (the last PATCH and a HEAD after a lost answer may both ask). */
  private readonly finishing = new Map<string, Promise<FinishResult>>();
  private readonly readyListeners = new Set<(nodes: string[], sha256: string) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: CloudBlobStoreDeps) {
    const root = join(d.dataDir, 'blobs');
    this.uploadsDir = join(root, 'uploads');
    this.completeDir = join(root, 'complete');
    mkdirSync(this.uploadsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.completeDir, { recursive: true, mode: 0o700 });
    this.now = d.now ?? Date.now;
    this.free = d.freeBytes ?? diskFreeBytes;
  }

  get limits(): CloudBlobLimits {
    return this.d.limits;
  }

  /** Recipient nodes with a complete blob waiting (a new blob, or recipients added): the relay pushes blob_ready. */
  onReady(fn: (nodes: string[], sha256: string) => void): () => void {
    this.readyListeners.add(fn);
    return () => this.readyListeners.delete(fn);
  }

  /** Removes what a crash or a lost database left, checks uploads that were whole when the cloud stopped, sweeps. */
  async start(): Promise<void> {
    await this.removeOrphans();
    for (const u of await this.partialUploads())
      if (sizeOf(this.uploadPath(u.id)) === u.size)
        this.finish(u.id).catch((err: unknown) => this.d.log.error({ err, upload: u.id }, 'checking a whole blob upload at start failed'));
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.d.limits.sweepIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---- limits ------------------------------------------------------------------------------------------------

  /** Throws the CloudError a new upload of `size` bytes by `node` hits: the maximum, the quota, the disk. */
  async checkRoom(node: string, size: number): Promise<void> {
    const { maxBlobBytes, accountQuotaBytes, maxPartialUploadsPerNode, diskReserveBytes } = this.d.limits;
    if (size > maxBlobBytes)
      throw new CloudError(413, 'file_too_large', `Blobs up to ${mib(maxBlobBytes)} MiB can be stored in this cloud.`);
    const partial = (await this.d.sql.get<{ n: number; bytes: number | string }>(
      'SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM cloud_blob_uploads WHERE node = ? AND completed_at IS NULL',
      [node],
    ))!;
    if (partial.n >= maxPartialUploadsPerNode)
      throw new CloudError(
        413,
        'quota_exceeded',
        `This node has ${partial.n} unfinished uploads here; finish or cancel some first (at most ${maxPartialUploadsPerNode}).`,
      );
    // A sum is numeric on PostgreSQL (a string here): Number() below.
    const stored = (await this.d.sql.get<{ bytes: number | string }>(
      'SELECT coalesce(sum(size), 0) AS bytes FROM cloud_blobs WHERE uploader = ?',
      [node],
    ))!;
    const used = Number(stored.bytes) + Number(partial.bytes);
    if (used + size > accountQuotaBytes)
      throw new CloudError(
        413,
        'quota_exceeded',
        `This node already has ${mib(used)} MiB stored or on its way here; the limit is ${mib(accountQuotaBytes)} MiB. Wait until earlier files are fetched.`,
      );
    // Room the unfinished uploads still need is as good as taken.
    const free = this.free(this.uploadsDir) - (await this.reservedBytes());
    if (free - diskReserveBytes < size)
      throw new CloudError(
        507,
        'insufficient_storage',
        `The cloud's disk has ${mib(Math.max(0, free))} MiB free: not enough for this blob.`,
      );
  }

  /** The disk is down to its reserve (a write that failed then failed for want of room). */
  diskLow(): boolean {
    return this.free(this.uploadsDir) <= this.d.limits.diskReserveBytes;
  }

  private async reservedBytes(): Promise<number> {
    let n = 0;
    for (const u of await this.partialUploads()) n += Math.max(0, u.size - (sizeOf(this.uploadPath(u.id)) ?? 0));
    return n;
  }

  private partialUploads(): Promise<UploadRow[]> {
    return this.d.sql.all<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM cloud_blob_uploads WHERE completed_at IS NULL`);
  }

  // ---- uploads -----------------------------------------------------------------------------------------------

  async recordUpload(id: string, node: string, u: NewUpload): Promise<void> {
    await this.d.sql.run(
      'INSERT INTO cloud_blob_uploads (id, node, sha256, size, recipients, ref, from_device, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [id, node, u.sha256, u.size, JSON.stringify(u.to), u.ref, u.from, this.iso()],
    );
  }

  async upload(id: string, q: SqlQuery = this.d.sql): Promise<UploadRow | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    const row = await q.get<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM cloud_blob_uploads WHERE id = ?`, [id]);
    if (row && row.completedAt === null && this.expired(row.createdAt, this.d.limits.partialTtlMs)) {
      await this.removeUpload(id, q);
      return undefined;
    }
    return row;
  }

  /** Bytes of a partial upload on disk (what tus would say its offset is). */
  uploadedBytes(id: string): number | undefined {
    return sizeOf(this.uploadPath(id));
  }

  /**
   * The upload holds its declared length: hash what was stored and, if it is the declared digest, make it the blob
   * (or, when that ciphertext is already here, just add its recipients) and tell the recipient nodes. A mismatch
   * removes the bytes and the upload. Safe to call again: a second call waits for the first, or answers at once.
   */
  finish(id: string): Promise<FinishResult> {
    const running = this.finishing.get(id);
    if (running) return running;
    const run = this.finishNow(id).finally(() => this.finishing.delete(id));
    this.finishing.set(id, run);
    return run;
  }

  private async finishNow(id: string): Promise<FinishResult> {
    const row = await this.d.sql.get<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM cloud_blob_uploads WHERE id = ?`, [id]);
    if (!row) return 'gone';
    if (row.completedAt !== null) return 'complete';
    const path = this.uploadPath(id);
    if (sizeOf(path) !== row.size) return sizeOf(path) === undefined ? 'gone' : 'partial';
    const hash = createHash('sha256');
    try {
      await pipeline(createReadStream(path), async (src: AsyncIterable<Buffer>) => {
        for await (const c of src) hash.update(c);
      });
    } catch (err) {
      // Cancelled (DELETE) or expired while it was being read.
      if (sizeOf(path) === undefined) return 'gone';
      throw err;
    }
    const digest = hash.digest('hex');
    // The check for an existing blob, the move and the rows are one step, under the blob's lock.
    const outcome = await this.d.sql.tx(async (tx): Promise<FinishResult | string[]> => {
      await tx.lock(blobLock(row.sha256));
      const now = await this.upload(id, tx);
      if (!now || now.completedAt !== null) return now ? 'complete' : 'gone';
      if (digest !== row.sha256 || sizeOf(path) !== row.size) {
        this.d.log.warn({ upload: id, node: row.node }, 'a blob upload did not hash to its declared sha256: removed');
        await this.removeUpload(id, tx);
        return 'digest_mismatch';
      }
      const exists = (await this.blob(row.sha256, tx)) !== undefined;
      if (!exists)
        await tx.run('INSERT INTO cloud_blobs (sha256, size, uploader, completed_at) VALUES (?, ?, ?, ?)', [
          row.sha256,
          row.size,
          row.node,
          this.iso(),
        ]);
      await tx.run('UPDATE cloud_blob_uploads SET completed_at = ? WHERE id = ?', [this.iso(), id]);
      const pending = await this.addDeliveries(tx, row.sha256, row.node, {
        to: JSON.parse(row.recipients) as BlobRecipients,
        ref: row.ref,
        from: row.fromDevice,
      });
      // The file moves last, inside the transaction: a failed move rolls the rows back, and a crash after the
      // commit but before the move leaves a row without its file, which the start-up check removes.
      if (exists) rmSync(path, { force: true });
      else renameSync(path, this.blobPath(row.sha256));
      rmSync(`${path}.json`, { force: true });
      return pending;
    });
    if (typeof outcome === 'string') return outcome;
    this.ready(outcome, row.sha256);
    return 'complete';
  }

  /** Partial upload: bytes, tus record and row. */
  async removeUpload(id: string, q: SqlQuery = this.d.sql): Promise<void> {
    if (!UPLOAD_ID.test(id)) return;
    rmSync(this.uploadPath(id), { force: true });
    rmSync(`${this.uploadPath(id)}.json`, { force: true });
    await q.run('DELETE FROM cloud_blob_uploads WHERE id = ?', [id]);
  }

  /**
   * The sender withdraws a verified upload: the deliveries it made go (the same node and ref), and the blob with
   * them if no recipient is left waiting for it.
   */
  async withdraw(row: UploadRow): Promise<void> {
    await this.d.sql.tx(async (tx) => {
      await tx.lock(blobLock(row.sha256));
      await tx.run('DELETE FROM cloud_blob_deliveries WHERE sha256 = ? AND from_node = ? AND ref = ? AND received_at IS NULL', [
        row.sha256,
        row.node,
        row.ref,
      ]);
      await tx.run('DELETE FROM cloud_blob_uploads WHERE id = ?', [row.id]);
    });
    await this.removeIfDone(row.sha256);
  }

  // ---- blobs -------------------------------------------------------------------------------------------------

  async blob(sha256: string, q: SqlQuery = this.d.sql): Promise<BlobRow | undefined> {
    if (!SHA256.test(sha256)) return undefined;
    return q.get<BlobRow>(`SELECT ${BLOB_COLUMNS} FROM cloud_blobs WHERE sha256 = ?`, [sha256]);
  }

  /** 403 not_a_contact when a recipient node is outside the sender's household and contacts. */
  async checkRecipients(node: string, to: BlobDelivery['to']): Promise<void> {
    const outside: string[] = [];
    for (const n of Object.keys(to)) if (this.d.mayReach && !(await this.d.mayReach(node, n))) outside.push(n);
    if (outside.length > 0)
      throw new CloudError(403, 'not_a_contact', `Recipient node(s) outside your household and contacts: ${outside.join(', ')}.`);
  }

  /** Content addressing: the same ciphertext for more recipients, without its bytes again. */
  async offer(node: string, sha256: string, delivery: BlobDelivery): Promise<void> {
    await this.checkRecipients(node, delivery.to);
    const pending = await this.d.sql.tx(async (tx) => {
      await tx.lock(blobLock(sha256));
      if (!(await this.blob(sha256, tx))) throw unknownBlob();
      return this.addDeliveries(tx, sha256, node, delivery);
    });
    this.ready(pending, sha256);
  }

  /**
   * One row per recipient node (per sending node and ref); a row that exists gains the new devices, and is waiting
   * again if any of them is new. Returns the recipient nodes that now wait for the blob.
   */
  private async addDeliveries(tx: SqlQuery, sha256: string, fromNode: string, d: BlobDelivery): Promise<string[]> {
    const now = this.iso();
    const pending: string[] = [];
    for (const [toNode, devices] of Object.entries(d.to)) {
      const key = [sha256, toNode, fromNode, d.ref];
      const where = 'sha256 = ? AND to_node = ? AND from_node = ? AND ref = ?';
      const old = await tx.get<DeliveryRow>(`SELECT devices, received_at AS "receivedAt" FROM cloud_blob_deliveries WHERE ${where}`, key);
      const wanted = [...new Set(devices)];
      if (!old) {
        await tx.run(
          'INSERT INTO cloud_blob_deliveries (sha256, to_node, from_node, ref, from_device, devices, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [sha256, toNode, fromNode, d.ref, d.from, JSON.stringify(wanted), now],
        );
        pending.push(toNode);
        continue;
      }
      const had = JSON.parse(old.devices) as string[];
      const added = wanted.filter((x) => !had.includes(x));
      const receivedAt = added.length > 0 ? null : old.receivedAt;
      await tx.run(`UPDATE cloud_blob_deliveries SET devices = ?, from_device = ?, received_at = ? WHERE ${where}`, [
        JSON.stringify([...had, ...added]),
        d.from,
        receivedAt,
        ...key,
      ]);
      if (receivedAt === null) pending.push(toNode);
    }
    return pending;
  }

  /** Complete blobs for `node` it has not marked received, oldest first, with its own devices only. */
  async incoming(node: string): Promise<IncomingCloudBlob[]> {
    const rows = await this.d.sql.all<{ sha256: string; size: number; ref: string; fromNode: string; fromDevice: string; devices: string }>(
      'SELECT d.sha256 AS sha256, b.size AS size, d.ref AS ref, d.from_node AS "fromNode", d.from_device AS "fromDevice", d.devices AS devices ' +
        'FROM cloud_blob_deliveries d JOIN cloud_blobs b ON b.sha256 = d.sha256 WHERE d.to_node = ? AND d.received_at IS NULL ' +
        'ORDER BY d.created_at, d.sha256, d.from_node, d.ref LIMIT ?',
      [node, INCOMING_BLOBS_PAGE],
    );
    return rows.map((d) => ({
      sha256: d.sha256,
      size: d.size,
      ref: d.ref,
      from_node: d.fromNode,
      from_device: d.fromDevice,
      devices: JSON.parse(d.devices) as string[],
    }));
  }

  /** The blob, if `node` may read it: its uploader, a node that offered it, or a recipient node. */
  async readable(node: string, sha256: string): Promise<BlobRow> {
    const blob = await this.blob(sha256);
    if (!blob) throw unknownBlob();
    if (blob.uploader === node) return blob;
    const mine = (await this.d.sql.get<{ n: number }>(
      'SELECT count(*) AS n FROM cloud_blob_deliveries WHERE sha256 = ? AND (to_node = ? OR from_node = ?)',
      [sha256, node, node],
    ))!;
    if (Number(mine.n) === 0) throw new CloudError(403, 'forbidden', 'This blob is not for this node.');
    return blob;
  }

  /** Ciphertext bytes [start, end) of a complete blob. */
  read(sha256: string, start: number, end: number): Readable {
    return createReadStream(this.blobPath(sha256), { start, end: end - 1 });
  }

  /** `node` holds the blob now; once every recipient node does, bytes and rows go. */
  async received(node: string, sha256: string): Promise<void> {
    if (!(await this.blob(sha256))) throw unknownBlob();
    const r = await this.d.sql.run(
      'UPDATE cloud_blob_deliveries SET received_at = ? WHERE sha256 = ? AND to_node = ? AND received_at IS NULL',
      [this.iso(), sha256, node],
    );
    if (r.changes === 0) {
      const any = (await this.d.sql.get<{ n: number }>('SELECT count(*) AS n FROM cloud_blob_deliveries WHERE sha256 = ? AND to_node = ?', [
        sha256,
        node,
      ]))!;
      if (Number(any.n) === 0) throw new CloudError(403, 'forbidden', 'Only a recipient node says it has a blob.');
    }
    await this.removeIfDone(sha256);
  }

  /** Removes the blob when no recipient node is waiting for it any more (checked under its lock). */
  private async removeIfDone(sha256: string): Promise<void> {
    await this.removeBlob(sha256, true);
  }

  /** The blob's rows and bytes; with `onlyIfDone`, only when no recipient waits for it (asked under the lock). */
  async removeBlob(sha256: string, onlyIfDone = false): Promise<void> {
    if (!SHA256.test(sha256)) return;
    const removed = await this.d.sql.tx(async (tx) => {
      await tx.lock(blobLock(sha256));
      if (onlyIfDone) {
        const waiting = (await tx.get<{ n: number }>(
          'SELECT count(*) AS n FROM cloud_blob_deliveries WHERE sha256 = ? AND received_at IS NULL',
          [sha256],
        ))!;
        if (Number(waiting.n) > 0) return false;
      }
      await tx.run('DELETE FROM cloud_blob_deliveries WHERE sha256 = ?', [sha256]);
      await tx.run('DELETE FROM cloud_blobs WHERE sha256 = ?', [sha256]);
      return true;
    });
    if (removed) rmSync(this.blobPath(sha256), { force: true });
  }

  // ---- housekeeping ------------------------------------------------------------------------------------------

  /** Partial uploads past their time (and verified uploads' rows), blobs past the retention time. */
  async sweep(): Promise<void> {
    try {
      const uploadsBefore = this.iso(-this.d.limits.partialTtlMs);
      for (const u of await this.d.sql.all<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM cloud_blob_uploads WHERE created_at < ?`, [
        uploadsBefore,
      ])) {
        if (this.finishing.has(u.id)) continue;
        if (u.completedAt === null) this.d.log.info({ upload: u.id, node: u.node }, 'a partial blob upload expired: removed');
        await this.removeUpload(u.id);
      }
      const blobsBefore = this.iso(-this.d.limits.retentionMs);
      for (const b of await this.d.sql.all<{ sha256: string }>('SELECT sha256 FROM cloud_blobs WHERE completed_at < ?', [blobsBefore])) {
        this.d.log.info({ blob: b.sha256 }, 'a blob reached its retention time: removed');
        await this.removeBlob(b.sha256);
      }
      // A blob every recipient has (or that lost its deliveries) does not wait for its retention time.
      const done = await this.d.sql.all<{ sha256: string }>(
        'SELECT b.sha256 AS sha256 FROM cloud_blobs b WHERE NOT EXISTS (SELECT 1 FROM cloud_blob_deliveries d WHERE d.sha256 = b.sha256 AND d.received_at IS NULL)',
      );
      for (const b of done) await this.removeBlob(b.sha256, true);
    } catch (err) {
      this.d.log.warn({ err }, 'the blob sweep failed; trying again later');
    }
  }

  /** At start (no request is running yet): files without rows, and rows without files. */
  private async removeOrphans(): Promise<void> {
    const uploads = new Map((await this.d.sql.all<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM cloud_blob_uploads`)).map((u) => [u.id, u]));
    for (const name of readdirSync(this.uploadsDir)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : name;
      const row = uploads.get(id);
      if (!row || row.completedAt !== null) rmSync(join(this.uploadsDir, name), { force: true, recursive: true });
    }
    for (const u of uploads.values())
      if (u.completedAt === null && sizeOf(this.uploadPath(u.id)) === undefined) await this.removeUpload(u.id);
    const blobs = new Set((await this.d.sql.all<{ sha256: string }>('SELECT sha256 FROM cloud_blobs')).map((b) => b.sha256));
    for (const name of readdirSync(this.completeDir))
      if (!blobs.has(name)) rmSync(join(this.completeDir, name), { force: true, recursive: true });
    for (const sha256 of blobs)
      if (sizeOf(this.blobPath(sha256)) === undefined) {
        this.d.log.warn({ blob: sha256 }, 'a blob row without its file: removed');
        await this.removeBlob(sha256);
      }
    // Deliveries of blobs that are gone (a crash between the two deletes cannot leave them, but an old copy might).
    await this.d.sql.run(
      'DELETE FROM cloud_blob_deliveries WHERE NOT EXISTS (SELECT 1 FROM cloud_blobs b WHERE b.sha256 = cloud_blob_deliveries.sha256)',
    );
  }

  // ---- helpers -----------------------------------------------------------------------------------------------

  private ready(nodes: string[], sha256: string): void {
    if (nodes.length === 0) return;
    for (const fn of this.readyListeners) {
      try {
        fn(nodes, sha256);
      } catch (err) {
        this.d.log.warn({ err }, 'a blob_ready listener failed');
      }
    }
  }

  private expired(iso: string, ttlMs: number): boolean {
    return Date.parse(iso) < this.now() - ttlMs;
  }

  private iso(offsetMs = 0): string {
    return new Date(this.now() + offsetMs).toISOString();
  }

  uploadPath(id: string): string {
    if (!UPLOAD_ID.test(id)) throw unknownBlob();
    return join(this.uploadsDir, id);
  }

  blobPath(sha256: string): string {
    if (!SHA256.test(sha256)) throw unknownBlob();
    return join(this.completeDir, sha256);
  }
}

const unknownBlob = () =>
  new CloudError(404, 'blob_unknown', 'No such blob in this cloud (never uploaded, expired, or already fetched by every recipient).');
