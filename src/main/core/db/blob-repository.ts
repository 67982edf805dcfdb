// blobs + blob_recipients: the files this node holds (ciphertext on disk, see files/blob-store.ts) and how far
// each recipient's copy has come.
import { and, asc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { BlobRecipientRow, BlobRecipientState, BlobRoute, BlobRow } from '../files/blob-ports.js';
import type { Db } from './open-database.js';
import { blobCloudUploads, blobRecipients, blobs } from './schema.js';

export interface NewRecipient {
  deviceId: string;
  route: BlobRoute;
  nodeId?: string | undefined;
}

export class BlobRepository {
  constructor(private readonly db: Db) {}

  /** Inserts a blob and its recipients in one commit; false when a blob with this id is already there. */
  /** `expectedSha256`: the digest another node announced for the ciphertext (checked when the last byte is in). */
  insert(
    blob: Omit<BlobRow, 'completedAt' | 'ciphertextSha256'>,
    recipients: NewRecipient[],
    state: BlobRecipientState,
    expectedSha256: string | null = null,
  ): boolean {
    return this.db.transaction((tx) => {
      const r = tx
        .insert(blobs)
        .values({ ...blob, completedAt: null, ciphertextSha256: expectedSha256 })
        .onConflictDoNothing()
        .run();
      if (r.changes === 0) return false;
      for (const rc of recipients)
        tx.insert(blobRecipients)
          .values({ blobId: blob.id, deviceId: rc.deviceId, route: rc.route, nodeId: rc.nodeId ?? null, state, updatedAt: blob.createdAt })
          .onConflictDoNothing()
          .run();
      return true;
    });
  }

  get(id: string): BlobRow | undefined {
    return this.db.select().from(blobs).where(eq(blobs.id, id)).get();
  }

  recipients(id: string): BlobRecipientRow[] {
    return this.db.select().from(blobRecipients).where(eq(blobRecipients.blobId, id)).orderBy(asc(blobRecipients.deviceId)).all();
  }

  byRoute(route: BlobRoute, state: BlobRecipientState, limit: number): BlobRecipientRow[] {
    return this.db
      .select()
      .from(blobRecipients)
      .where(and(eq(blobRecipients.route, route), eq(blobRecipients.state, state)))
      .orderBy(asc(blobRecipients.updatedAt), asc(blobRecipients.blobId))
      .limit(limit)
      .all();
  }

  setState(blobId: string, deviceIds: string[], state: BlobRecipientState, now: number): void {
    if (deviceIds.length === 0) return;
    this.db
      .update(blobRecipients)
      .set({ state, updatedAt: now })
      .where(and(eq(blobRecipients.blobId, blobId), inArray(blobRecipients.deviceId, deviceIds)))
      .run();
  }

  /** The blob is all here: recorded complete, its local recipients 'ready' (one commit). */
  complete(id: string, ciphertextSha256: string, now: number): void {
    this.db.transaction((tx) => {
      tx.update(blobs).set({ completedAt: now, ciphertextSha256 }).where(eq(blobs.id, id)).run();
      tx.update(blobRecipients)
        .set({ state: 'ready', updatedAt: now })
        .where(and(eq(blobRecipients.blobId, id), eq(blobRecipients.route, 'local'), eq(blobRecipients.state, 'waiting')))
        .run();
    });
  }

  remove(id: string): void {
    this.db.transaction((tx) => {
      tx.delete(blobRecipients).where(eq(blobRecipients.blobId, id)).run();
      tx.delete(blobCloudUploads).where(eq(blobCloudUploads.blobId, id)).run();
      tx.delete(blobs).where(eq(blobs.id, id)).run();
    });
  }

  /** The cloud's tus upload URL for this blob, kept so an upload resumes after a restart. */
  cloudUploadUrl(id: string): string | undefined {
    return this.db.select().from(blobCloudUploads).where(eq(blobCloudUploads.blobId, id)).get()?.uploadUrl;
  }

  setCloudUploadUrl(id: string, uploadUrl: string | undefined, now: number): void {
    if (uploadUrl === undefined) this.db.delete(blobCloudUploads).where(eq(blobCloudUploads.blobId, id)).run();
    else
      this.db
        .insert(blobCloudUploads)
        .values({ blobId: id, uploadUrl, updatedAt: now })
        .onConflictDoUpdate({ target: blobCloudUploads.blobId, set: { uploadUrl, updatedAt: now } })
        .run();
  }

  /** Bytes a device has uploaded to this node and that are still held (complete or partial). */
  bytesFrom(deviceId: string): number {
    const r = this.db
      .select({ n: sql<number>`coalesce(sum(${blobs.size}), 0)` })
      .from(blobs)
      .where(and(eq(blobs.fromDevice, deviceId), eq(blobs.origin, 'device')))
      .get();
    return Number(r?.n ?? 0);
  }

  /** Partial blobs created before `before`, and complete ones completed before `completedBefore`. */
  expired(before: number, completedBefore: number): string[] {
    const partial = this.db
      .select({ id: blobs.id })
      .from(blobs)
      .where(and(isNull(blobs.completedAt), lt(blobs.createdAt, before)))
      .all();
    const old = this.db.select({ id: blobs.id }).from(blobs).where(lt(blobs.completedAt, completedBefore)).all();
    return [...partial, ...old].map((r) => r.id);
  }

  /** Complete blobs whose every recipient is done ('received', 'sent' or 'failed'): nobody needs them here. */
  finished(limit: number): string[] {
    return this.db
      .all<{ id: string }>(
        sql`SELECT b.id AS id FROM blobs b WHERE b.completed_at IS NOT NULL AND NOT EXISTS (
              SELECT 1 FROM blob_recipients r WHERE r.blob_id = b.id AND r.state IN ('waiting', 'ready')) LIMIT ${limit}`,
      )
      .map((r) => r.id);
  }

  all(): BlobRow[] {
    return this.db.select().from(blobs).all();
  }
}
