// Files between homes (docs/files.md, "Cloud"): blobs whose recipients are devices of other homes go up into the
// cloud's blob store once they are complete here, and blobs the cloud holds for our devices come down into the
// node's blob store. Both sides resume: an upload from the cloud's offset (its tus URL is kept in the database),
// a download from the bytes already stored. One upload and one download at a time; whatever fails for a
// network reason is tried again on the next relay hello, push or retry tick.
import type { Logger } from 'pino';
import { concatBytes } from '../../../shared/encoding.js';
import { DomainError } from '../errors/domain-error.js';
import type { BlobFiles, BlobRow } from '../files/blob-ports.js';
import { Backoff } from './backoff.js';
import { CloudCallError } from './cloud-api.js';
import { CloudBlobs, type IncomingCloudBlob } from './cloud-blobs.js';

export interface CloudBlobTransportDeps {
  files: BlobFiles;
  /** The cloud URL and this node's token (null while logged out). */
  credentials(): { url: string; token: string } | null;
  /** The relay is connected (the cloud is reachable and our token good). */
  isUp(): boolean;
  /** The relay said hello / the cloud pushed blob_ready. */
  onRelayEvent(fn: (e: { type: 'connected' } | { type: 'blob_ready'; sha256: string }) => void): () => void;
  log: Logger;
  /** Tests: a client other than the real one. */
  client?: (url: string, token: () => string) => CloudBlobs;
}

/** Bytes written to the blob store per append while downloading: what one download holds in memory. */
const APPEND_BYTES = 4 * 1024 * 1024;
/** While work is left (a refusal aside), it is looked at again this often at most. */
const RETRY = { baseMs: 2_000, capMs: 60_000 };

export class CloudBlobTransport {
  readonly name = 'cloud files';
  private readonly cleanups: (() => void)[] = [];
  private uploading = false;
  private uploadAgain = false;
  private downloading = false;
  private downloadAgain = false;
  private readonly upBackoff = new Backoff(RETRY);
  private readonly downBackoff = new Backoff(RETRY);
  private upTimer: NodeJS.Timeout | undefined;
  private downTimer: NodeJS.Timeout | undefined;
  /** The upload in flight and how to stop it (its blob was cancelled here). */
  private current: { id: string; abort: AbortController } | undefined;
  /** Blobs the cloud offered that we refused for good in this process (a conflict, a digest mismatch). */
  private readonly refused = new Set<string>();
  private stopped = false;

  constructor(private readonly d: CloudBlobTransportDeps) {}

  async start(): Promise<void> {
    this.cleanups.push(
      this.d.files.onComplete((b) => {
        if (b.origin === 'device') this.kickUploads();
      }),
      this.d.files.onRemoved((id) => {
        if (this.current?.id === id) this.current.abort.abort();
      }),
      this.d.onRelayEvent((e) => {
        if (e.type === 'connected') this.kickUploads();
        this.kickDownloads();
      }),
    );
    this.kickUploads();
    this.kickDownloads();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.cleanups.splice(0)) c();
    clearTimeout(this.upTimer);
    clearTimeout(this.downTimer);
    this.current?.abort.abort();
  }

  private client(): CloudBlobs | undefined {
    const creds = this.d.credentials();
    if (!creds || !this.d.isUp()) return undefined;
    const token = () => this.d.credentials()?.token ?? creds.token;
    return this.d.client ? this.d.client(creds.url, token) : new CloudBlobs(creds.url, token);
  }

  // ---- up ---------------------------------------------------------------------------------------------------

  private kickUploads(): void {
    if (this.stopped) return;
    if (this.uploading) {
      this.uploadAgain = true;
      return;
    }
    void this.uploadAll();
  }

  private async uploadAll(): Promise<void> {
    this.uploading = true;
    let retry = false;
    try {
      do {
        this.uploadAgain = false;
        const cloud = this.client();
        if (!cloud) return;
        const byBlob = new Map<string, { nodeId: string | null; deviceId: string }[]>();
        for (const r of this.d.files.recipientsByRoute('cloud', 'waiting'))
          byBlob.set(r.blobId, [...(byBlob.get(r.blobId) ?? []), { nodeId: r.nodeId, deviceId: r.deviceId }]);
        for (const [id, rows] of byBlob) {
          if (this.stopped) return;
          const b = this.d.files.get(id);
          if (!b || b.completedAt == null || !b.ciphertextSha256) continue;
          retry = !(await this.uploadOne(cloud, b, rows)) || retry;
        }
      } while (this.uploadAgain && !this.stopped);
      if (!retry) this.upBackoff.reset();
    } finally {
      this.uploading = false;
      if (retry && !this.stopped) {
        clearTimeout(this.upTimer);
        this.upTimer = setTimeout(() => this.kickUploads(), this.upBackoff.next());
        this.upTimer.unref();
      }
    }
  }

  /** One blob up; false: try again later (a network failure), true: done one way or the other. */
  private async uploadOne(cloud: CloudBlobs, b: BlobRow, rows: { nodeId: string | null; deviceId: string }[]): Promise<boolean> {
    const devices = rows.map((r) => r.deviceId);
    const to: Record<string, string[]> = {};
    for (const r of rows) {
      if (!r.nodeId) continue;
      to[r.nodeId] = [...(to[r.nodeId] ?? []), r.deviceId];
    }
    const unplaced = rows.filter((r) => !r.nodeId).map((r) => r.deviceId);
    if (unplaced.length > 0) this.d.files.setRecipientState(b.id, unplaced, 'failed');
    if (Object.keys(to).length === 0) return true;
    const sha256 = b.ciphertextSha256!;
    const abort = new AbortController();
    this.current = { id: b.id, abort };
    try {
      if (!(await cloud.offer(sha256, to, b.id, b.fromDevice))) {
        const uploadUrl = this.d.files.cloudUploadUrl(b.id);
        await cloud.upload({
          sha256,
          size: b.size,
          to,
          ref: b.id,
          from: b.fromDevice,
          read: (start, end) => readAll(this.d.files.read(b.id, start, end)),
          ...(uploadUrl ? { uploadUrl } : {}),
          onUploadUrl: (url) => this.d.files.setCloudUploadUrl(b.id, url),
          signal: abort.signal,
        });
      }
      this.d.files.setCloudUploadUrl(b.id, undefined);
      this.d.files.setRecipientState(
        b.id,
        devices.filter((d) => !unplaced.includes(d)),
        'sent',
      );
      this.d.log.info({ blob: b.id, bytes: b.size }, 'a file went up to the cloud');
      return true;
    } catch (err) {
      if (abort.signal.aborted) return true;
      if (err instanceof CloudCallError && err.kind === 'rejected' && isFinal(err.status)) {
        this.d.log.warn({ blob: b.id, error: err.cloudError, message: err.message }, 'the cloud refused a file');
        this.d.files.setRecipientState(b.id, devices, 'failed');
        return true;
      }
      this.d.log.info({ blob: b.id, err: (err as Error).message }, 'a file could not go up to the cloud yet; trying again');
      return false;
    } finally {
      if (this.current?.abort === abort) this.current = undefined;
    }
  }

  // ---- down -------------------------------------------------------------------------------------------------

  private kickDownloads(): void {
    if (this.stopped) return;
    if (this.downloading) {
      this.downloadAgain = true;
      return;
    }
    void this.downloadAll();
  }

  private async downloadAll(): Promise<void> {
    this.downloading = true;
    let retry = false;
    try {
      do {
        this.downloadAgain = false;
        const cloud = this.client();
        if (!cloud) return;
        let list: IncomingCloudBlob[];
        try {
          list = await cloud.incoming();
        } catch (err) {
          this.d.log.info({ err: (err as Error).message }, 'could not list the files the cloud holds for us; trying again');
          retry = true;
          break;
        }
        for (const blob of list) {
          if (this.stopped) return;
          if (this.refused.has(blob.sha256)) continue;
          retry = !(await this.downloadOne(cloud, blob)) || retry;
        }
      } while (this.downloadAgain && !this.stopped);
      if (!retry) this.downBackoff.reset();
    } finally {
      this.downloading = false;
      if (retry && !this.stopped) {
        clearTimeout(this.downTimer);
        this.downTimer = setTimeout(() => this.kickDownloads(), this.downBackoff.next());
        this.downTimer.unref();
      }
    }
  }

  /** One blob down into the store (from the bytes already here); false: try again later. */
  private async downloadOne(cloud: CloudBlobs, blob: IncomingCloudBlob): Promise<boolean> {
    const id = blob.ref;
    try {
      let { received } = await this.d.files.beginIncoming({
        id,
        size: blob.size,
        fromDevice: blob.from_device,
        origin: 'cloud',
        originNode: blob.from_node,
        ciphertextSha256: blob.sha256,
        to: blob.devices,
      });
      if (received < blob.size) {
        const stream = await cloud.download(blob.sha256, received);
        const parts: Uint8Array[] = [];
        let held = 0;
        const flush = async () => {
          if (held === 0) return;
          const piece = concatBytes(parts.splice(0), held);
          held = 0;
          received = await this.d.files.appendIncoming(id, received, piece);
        };
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
          if (this.stopped) return true;
          parts.push(chunk);
          held += chunk.length;
          if (held >= APPEND_BYTES) await flush();
        }
        await flush();
      }
      if (received < blob.size) return false;
      await cloud.received(blob.sha256);
      this.d.log.info({ blob: id, bytes: blob.size }, 'a file came down from the cloud');
      return true;
    } catch (err) {
      if (err instanceof DomainError) {
        // Not for this node to take (an id in use here, bytes that do not match, our limits): say so once.
        this.d.log.warn({ blob: id, error: err.code, message: err.message }, 'a file from the cloud could not be taken');
        if (err.code === 'blob_conflict' || err.code === 'blob_digest_mismatch') this.refused.add(blob.sha256);
        return err.code !== 'insufficient_storage';
      }
      if (err instanceof CloudCallError && err.kind === 'rejected' && isFinal(err.status)) {
        this.d.log.warn({ blob: id, error: err.cloudError }, 'the cloud would not give a file it listed');
        return true;
      }
      this.d.log.info({ blob: id, err: (err as Error).message }, 'a file could not come down from the cloud yet; trying again');
      return false;
    }
  }
}

/** A refusal that sending again will not change (not a conflict, a lock, a rate limit, or the server's trouble). */
const isFinal = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 423 && status !== 429;

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream) {
    parts.push(c);
    n += c.length;
  }
  return concatBytes(parts, n);
}
