// Files in tests: a device sends bytes through its node (tus, encrypted as it goes) and another downloads and
// checks them; what arrives is hashed, never held whole, so a 64 MiB file costs the test no 64 MiB of memory.
import { createHash, randomBytes } from 'node:crypto';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { bytesSource, downloadFile, type FileAuth, FileUpload, type Progress, type SentFile } from '../../src/shared/client/file-client.js';
import type { FileStatus } from '../../src/shared/wire/files.js';

export const deviceAuth = (base: string, creds: { sessionId: string; deviceSecret: Uint8Array }): FileAuth => {
  const client = new DeviceClient(base, creds);
  return { headers: (method, path, digest) => client.signedHeaders(method, path, digest) };
};

export const adminAuth = (token: string): FileAuth => ({ headers: () => ({ authorization: `Admin ${token}` }) });

/** Random bytes and their SHA-256 (hex). */
export function testFile(bytes: number): { bytes: Uint8Array; sha256: string } {
  const b = randomBytes(bytes);
  return { bytes: b, sha256: createHash('sha256').update(b).digest('hex') };
}

export interface SendOptions {
  base: string;
  auth: FileAuth;
  to: string[];
  bytes: Uint8Array;
  path?: string;
  onProgress?: (p: Progress) => void;
  retryDelays?: number[];
  requestBytes?: number;
}

export function startUpload(o: SendOptions): { upload: FileUpload; done: Promise<SentFile> } {
  const upload = new FileUpload({
    baseUrl: o.base,
    path: o.path ?? '/api/files',
    auth: o.auth,
    to: o.to,
    source: bytesSource(o.bytes),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.retryDelays ? { retryDelays: o.retryDelays } : {}),
    ...(o.requestBytes ? { requestBytes: o.requestBytes } : {}),
  });
  return { upload, done: upload.start() };
}

/** Downloads and decrypts `sent` from `base` as the device of `auth`; resolves with the plaintext's SHA-256 and size. */
export async function fetchFile(
  base: string,
  auth: FileAuth,
  sent: SentFile,
  opts: { path?: string; onProgress?: (p: Progress & { phase: string }) => void; fetch?: typeof fetch; retryDelayMs?: number } = {},
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await downloadFile({
    baseUrl: base,
    path: opts.path ?? '/api/files',
    auth,
    blobId: sent.blobId,
    size: sent.size,
    chunk: sent.chunk,
    contentKey: sent.contentKey,
    sha256: sent.sha256,
    sink: (p) => {
      hash.update(p);
      size += p.length;
    },
    retryDelayMs: opts.retryDelayMs ?? 200,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  return { sha256: hash.digest('hex'), size };
}

/** GET /api/files/<id>/status as `creds`' device: the status code (0 when the node is down) and the body on 200. */
export async function fileStatus(
  base: string,
  creds: { sessionId: string; deviceSecret: Uint8Array },
  id: string,
): Promise<{ code: number; body: FileStatus | undefined }> {
  const path = `/api/files/${id}/status`;
  try {
    const res = await fetch(base + path, { headers: deviceAuth(base, creds).headers('GET', path) });
    return { code: res.status, body: res.status === 200 ? ((await res.json()) as FileStatus) : undefined };
  } catch {
    return { code: 0, body: undefined };
  }
}

/** POST /api/files/<id>/received as `creds`' device: its status code. */
export async function markReceived(base: string, creds: { sessionId: string; deviceSecret: Uint8Array }, id: string): Promise<number> {
  const path = `/api/files/${id}/received`;
  return (await fetch(base + path, { method: 'POST', headers: deviceAuth(base, creds).headers('POST', path) })).status;
}
