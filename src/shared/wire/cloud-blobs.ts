// The cloud's blob store (docs/cloud.md "Blobs"): file ciphertext between homes, content-addressed by its
// SHA-256. Built by the cloud's blob routes (src/cloud/blob-routes.ts) and parsed by the node's client
// (src/main/core/cloud/cloud-blobs.ts). The cloud sees only ciphertext, its size, who sent it and which nodes'
// devices it is for. The bytes go by tus (uploads) and HTTP Range (downloads); the JSON bodies are here.
import { z } from 'zod';
import { DeviceId } from '../e2ee/schema.js';

/** Hex SHA-256 of a whole ciphertext (lowercase): the blob's name at the cloud. */
export const BlobSha256 = z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 lowercase hex digits');
/** A node as the cloud calls it: base64url of its 32-byte static key (its cloud device_id). */
export const CloudNodeId = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'node: base64url of a 32-byte key');
/** The sending node's own id for the blob: opaque to the cloud, handed back to the recipients. */
export const BlobRef = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'ref: 1-128 printable ASCII characters');

/**
 * Most recipient devices of one blob, over all its nodes: as many as a file may have on the sending node (its
 * tus upload's `to`). It also keeps the `to` metadata well inside an HTTP header (Node allows 16 KiB of them).
 */
export const MAX_BLOB_RECIPIENT_DEVICES = 32;

/** `{"<recipient node id>": ["<device id>", ...], ...}`: who the blob is for, grouped by the node serving them. */
export const BlobRecipients = z.record(CloudNodeId, z.array(DeviceId).min(1).max(MAX_BLOB_RECIPIENT_DEVICES)).refine((r) => {
  const nodes = Object.values(r);
  return nodes.length >= 1 && nodes.reduce((n, devices) => n + devices.length, 0) <= MAX_BLOB_RECIPIENT_DEVICES;
}, `to: 1 or more recipient nodes, ${MAX_BLOB_RECIPIENT_DEVICES} devices at most in all`);
export type BlobRecipients = z.infer<typeof BlobRecipients>;

/**
 * The tus Upload-Metadata keys of POST /api/blobs (each value base64 as tus wants): `sha256` the hex digest of
 * the whole ciphertext, `to` BlobRecipients as JSON, `ref` BlobRef, `from` the sending device id.
 */
export const BLOB_METADATA = { sha256: 'sha256', to: 'to', ref: 'ref', from: 'from' } as const;

/** What a delivery says besides the bytes: the same fields as the upload's metadata. */
export const BlobDelivery = z.object({ to: BlobRecipients, ref: BlobRef, from: DeviceId }).strict();
export type BlobDelivery = z.infer<typeof BlobDelivery>;

/** PUT /api/blobs/:sha256/recipients: add these recipients to a blob the cloud already holds whole. */
export const OfferBlobRequest = BlobDelivery;
export type OfferBlobRequest = z.infer<typeof OfferBlobRequest>;
/** 200: the blob is there and the recipients were added (404 blob_unknown: upload it with tus). */
export const OfferBlobResponse = z.object({ complete: z.literal(true) });
export type OfferBlobResponse = z.infer<typeof OfferBlobResponse>;

/** One complete blob for the calling node that it has not marked received. */
export const IncomingCloudBlob = z.object({
  sha256: BlobSha256,
  size: z.number().int().nonnegative(),
  ref: z.string(),
  from_node: z.string(),
  from_device: z.string(),
  /** The caller's recipient devices only (never another node's). */
  devices: z.array(z.string()),
});
export type IncomingCloudBlob = z.infer<typeof IncomingCloudBlob>;

/** Most entries one GET /api/blobs/incoming answers (oldest first); the rest come once these are received. */
export const INCOMING_BLOBS_PAGE = 1000;
export const IncomingBlobsResponse = z.object({ blobs: z.array(IncomingCloudBlob) });
export type IncomingBlobsResponse = z.infer<typeof IncomingBlobsResponse>;

/** POST /api/blobs/:sha256/received */
export const BlobReceivedResponse = z.object({ ok: z.literal(true) });
export type BlobReceivedResponse = z.infer<typeof BlobReceivedResponse>;

/** Where tus creates uploads, and where each upload then lives (`<UPLOADS>/<upload id>`, the Location). */
export const BLOBS_PATH = '/api/blobs';
export const BLOB_UPLOADS_PATH = '/api/blobs/uploads';
