// A file message's content, inside the E2EE envelope (docs/e2ee.md "Files"): which blob, the key that opens it,
// what the file is (name, type, size) and a digest of the whole plaintext, with an optional small thumbnail made
// by the sender. Nodes and the cloud never see any of it; a recipient checks everything against it.
import { z } from 'zod';
import { FILE_CHUNK_SIZES } from './file-stream.js';

export const MAX_FILE_NAME_CHARS = 255;
/** 4 TiB: far past any limit a node sets, and exact in a double. */
export const MAX_FILE_BYTES = 2 ** 42;
export const MAX_THUMB_BYTES = 32 * 1024;

const b64url = (bytes: number) =>
  z
    .string()
    .length(Math.ceil((bytes * 4) / 3))
    .regex(/^[A-Za-z0-9_-]*$/, 'base64url');

/** 16 random bytes, base64url: the node's name for the ciphertext. */
export const BlobId = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'blob id: 22 base64url characters');

/** A file name as a person gave it: no path, no control characters. */
export const FileName = z
  .string()
  .min(1)
  .max(MAX_FILE_NAME_CHARS)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .refine((s) => !/[/\\\u0000-\u001f\u007f]/.test(s) && s !== '.' && s !== '..', 'file name: no slashes, no control characters');

export const MimeType = z
  .string()
  .max(127)
  .regex(/^[\w.+-]+\/[\w.+-]+$/, 'type: a MIME type such as image/jpeg');

export const FileThumb = z
  .object({
    type: z.enum(['image/jpeg', 'image/png', 'image/webp']),
    w: z.number().int().min(1).max(4096),
    h: z.number().int().min(1).max(4096),
    data: z
      .string()
      .max(Math.ceil((MAX_THUMB_BYTES * 4) / 3))
      .regex(/^[A-Za-z0-9_-]+$/, 'base64url'),
  })
  .strict();

export const FileManifest = z
  .object({
    t: z.literal('file'),
    v: z.literal(1),
    blob: BlobId,
    name: FileName,
    type: MimeType,
    size: z.number().int().min(0).max(MAX_FILE_BYTES),
    chunk: z.number().refine((n) => FILE_CHUNK_SIZES.includes(n), 'chunk: a power of two from 16 KiB to 1 MiB'),
    /** base64url of the 32-byte content key. */
    key: b64url(32),
    /** base64url of the SHA-256 of the whole plaintext. */
    sha256: b64url(32),
    thumb: FileThumb.optional(),
  })
  .strict();
export type FileManifest = z.infer<typeof FileManifest>;
export type FileThumb = z.infer<typeof FileThumb>;
