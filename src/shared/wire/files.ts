// What the node answers about files (docs/files.md): a blob's progress on this node and the refusals that carry
// facts. The bytes themselves go by tus (uploads) and HTTP Range (downloads).
import { z } from 'zod';

const Bytes = z.number().int().nonnegative();

/** GET /api/files/:id/status */
export const FileStatus = z.object({ id: z.string(), size: Bytes, received: Bytes, complete: z.boolean() }).strict();
export type FileStatus = z.infer<typeof FileStatus>;

/** 409 blob_not_ready: the ciphertext is still on its way to this node. */
export const BlobNotReady = z.object({ error: z.literal('blob_not_ready'), message: z.string(), received: Bytes, size: Bytes });
export type BlobNotReady = z.infer<typeof BlobNotReady>;

/** The tus metadata key naming the recipients: device ids, comma-separated. */
export const FILE_RECIPIENTS_METADATA = 'to';
