// The seams of the node's blob store: what the transports that bring blobs to this node or take them away (the
// peer link, the cloud link) need from it. The store (blob-store.ts) implements BlobFiles; it knows nothing of
// links or the cloud.
import type { Readable } from 'node:stream';

export type BlobOrigin = 'device' | 'lan' | 'cloud';
export type BlobRoute = 'local' | 'lan' | 'cloud';
/** Why a blob went: 'refused' is the store's own (bytes that did not hash to the announced digest). */
export type BlobRemoval = 'cancelled' | 'expired' | 'finished' | 'refused';
export type BlobRecipientState = 'waiting' | 'ready' | 'sent' | 'received' | 'failed';

export interface BlobRow {
  id: string;
  /** Ciphertext bytes. */
  size: number;
  fromDevice: string;
  origin: BlobOrigin;
  originNode: string | null;
  /** SHA-256 hex of the whole ciphertext: computed when a device's upload completes; for a blob from another node, the announced one (checked on completion). */
  ciphertextSha256: string | null;
  createdAt: number;
  completedAt: number | null;
}

export interface BlobRecipientRow {
  blobId: string;
  deviceId: string;
  route: BlobRoute;
  /** The paired desktop serving the device (route 'lan'). */
  nodeId: string | null;
  state: BlobRecipientState;
  updatedAt: number;
}

/** A blob that another node holds for some of our devices. */
export interface IncomingBlob {
  id: string;
  size: number;
  fromDevice: string;
  origin: 'lan' | 'cloud';
  /** The paired desktop it comes from (origin 'lan'). */
  originNode?: string;
  ciphertextSha256?: string;
  /** Our local recipient devices (the caller filters the sender's list down to devices this node serves). */
  to: string[];
}

export interface BlobFiles {
  get(id: string): BlobRow | undefined;
  recipients(id: string): BlobRecipientRow[];
  /** Recipient rows with this route and state, oldest blob first (e.g. 'lan' + 'waiting': what to offer a peer). */
  recipientsByRoute(route: BlobRoute, state: BlobRecipientState, limit?: number): BlobRecipientRow[];
  setRecipientState(blobId: string, deviceIds: string[], state: BlobRecipientState): void;
  /** Bytes of `id` stored on this node so far (undefined: no such blob). */
  received(id: string): number | undefined;
  /**
   * Registers a blob coming from elsewhere (idempotent by id: a second call returns what is already there). Checks
   * the same limits as an upload (size, disk space) and throws a DomainError when one is hit.
   */
  beginIncoming(b: IncomingBlob): Promise<{ received: number }>;
  /**
   * Appends `data` at `offset`, which must be the bytes stored so far (else DomainError 'offset_mismatch').
   * Completes the blob when the size is reached (its local recipients become 'ready'; onComplete fires).
   * Resolves with the new count of stored bytes.
   */
  appendIncoming(id: string, offset: number, data: Uint8Array | Readable): Promise<number>;
  /** The cloud's tus upload URL for a blob going up (kept across restarts), set once the cloud gave one. */
  cloudUploadUrl(id: string): string | undefined;
  setCloudUploadUrl(id: string, url: string | undefined): void;
  /** Ciphertext bytes [start, end) (end exclusive, at most what is stored). */
  read(id: string, start: number, end: number): Readable;
  /** A blob became complete on this node (a device's upload finished, or an incoming one arrived). */
  onComplete(fn: (blob: BlobRow) => void): () => void;
  /** A blob was removed: cancelled by its sender (or refused), expired, or everyone has it ('finished'). */
  onRemoved(fn: (blobId: string, why: BlobRemoval) => void): () => void;
  /** Removes bytes and rows (a sender's cancel, relayed by the node that had the upload; a refused blob). */
  remove(id: string, why?: BlobRemoval): Promise<void>;
}
