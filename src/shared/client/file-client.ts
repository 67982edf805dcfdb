// The device side of files (docs/files.md): encrypt a file chunk by chunk while tus uploads the ciphertext to our
// node, resumable from the node's offset; download a file's ciphertext with HTTP Range, decrypt and check it as
// it comes, resumable from the last whole chunk. Runs in the browser (phone page, desktop UI) and in Node (tests,
// bench); the same code signs the requests of a paired device or carries the desktop UI's admin token.
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { type DetailedError, defaultOptions, type HttpRequest, type HttpStack, Upload } from 'tus-js-client';
import { isE2eeError } from '../e2ee/errors.js';
import { FILE_CHUNK_BYTES, FILE_TAG_BYTES, FileDecryptor, FileEncryptor } from '../e2ee/file-stream.js';
import { concatBytes, toBase64Url, toHex } from '../encoding.js';
import { FILE_RECIPIENTS_METADATA } from '../wire/files.js';

/** How a request to our node is authenticated: signed (a paired device) or the admin token (the desktop UI). */
export interface FileAuth {
  /** Headers for `method` on `pathWithQuery`; a body too large to sign whole is named by its SHA-256 (hex). */
  headers(method: string, pathWithQuery: string, bodySha256Hex?: string): Record<string, string>;
}

/** The plaintext of a file, read by range (a browser File, a file on disk, bytes in memory). */
export interface PlainSource {
  readonly size: number;
  read(start: number, end: number): Promise<Uint8Array>;
}

export const bytesSource = (bytes: Uint8Array): PlainSource => ({
  size: bytes.length,
  read: async (start, end) => bytes.subarray(start, end),
});
export const blobSource = (blob: Blob): PlainSource => ({
  size: blob.size,
  read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()),
});

export interface Progress {
  done: number;
  total: number;
}

/** Failures a person is told about, each with a stable code. */
export class FileTransferError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FileTransferError';
  }
}

/** What the recipients need to read the file: it goes inside the E2EE envelope, never to a node in the clear. */
export interface SentFile {
  blobId: string;
  contentKey: Uint8Array;
  /** SHA-256 of the plaintext. */
  sha256: Uint8Array;
  size: number;
  chunk: number;
}

export interface UploadOptions {
  /** The node's origin, e.g. `http://192.168.1.10:6969` ('' for the page's own origin). */
  baseUrl: string;
  /** '/api/files' (a paired device) or '/api/admin/files' (the desktop UI). */
  path: string;
  auth: FileAuth;
  to: string[];
  source: PlainSource;
  chunk?: number;
  /** Ciphertext bytes per PATCH (rounded to whole chunks). */
  requestBytes?: number;
  /** Resume an upload made earlier (its URL and content key, as onStarted gave them). */
  resume?: { uploadUrl: string; contentKey: Uint8Array };
  onProgress?: (p: Progress) => void;
  /** The upload exists on the node: keep these to resume after a reload. */
  onStarted?: (s: { uploadUrl: string; blobId: string; contentKey: Uint8Array }) => void;
  /** Waits between retries after a failure (tus-js-client's retryDelays); default: keep trying for ~10 minutes. */
  retryDelays?: number[];
  /** A request failed and will be tried again (the node is away, say): progress goes on by itself once it is back. */
  onRetry?: (err: FileTransferError) => void;
}

const DEFAULT_REQUEST_BYTES = 4 * 1024 * 1024;
const KEEP_TRYING = [0, 500, 1000, 2000, ...Array.from({ length: 200 }, () => 3000)];

const pathOf = (url: string) => {
  const u = new URL(url, 'http://x');
  return u.pathname + u.search;
};

/** tus-js-client's HTTP stack with every request authenticated; a request with a body is signed over its digest. */
function authenticatedStack(auth: FileAuth): HttpStack {
  const inner = defaultOptions.httpStack;
  return {
    getName: () => `salita(${inner.getName()})`,
    createRequest(method: string, url: string): HttpRequest {
      const req = inner.createRequest(method, url);
      const send = req.send.bind(req);
      req.send = async (body?: unknown) => {
        const bytes = body instanceof Uint8Array ? body : undefined;
        const digest = bytes ? toHex(sha256(bytes)) : undefined;
        for (const [k, v] of Object.entries(auth.headers(method, pathOf(url), digest))) req.setHeader(k, v);
        if (digest) req.setHeader('X-Content-SHA256', digest);
        return send(body);
      };
      return req;
    },
  };
}

/** Uploads one file; start() resolves once the node holds all of its ciphertext. */
export class FileUpload {
  readonly contentKey: Uint8Array;
  readonly chunk: number;
  private readonly encryptor: FileEncryptor;
  private upload: Upload | undefined;
  /** The plaintext digest is taken in order, chunk by chunk, whatever order tus asks for ranges in. */
  private readonly hasher = sha256.create();
  private hashed = 0;
  private cancelled = false;

  constructor(private readonly o: UploadOptions) {
    this.chunk = o.chunk ?? FILE_CHUNK_BYTES;
    this.contentKey = o.resume?.contentKey ?? randomBytes(32);
    this.encryptor = new FileEncryptor(this.contentKey, o.source.size, this.chunk);
  }

  get ciphertextSize(): number {
    return this.encryptor.ciphertextSize;
  }

  private async hashThrough(chunks: number): Promise<void> {
    while (this.hashed < chunks) {
      const [a, b] = this.encryptor.chunkPlaintextRange(this.hashed);
      this.hasher.update(await this.o.source.read(a, b));
      this.hashed++;
    }
  }

  /** Ciphertext bytes [start, end): the chunks that cover it, encrypted (deterministic, so a resend is the same bytes). */
  private async ciphertext(start: number, end: number): Promise<Uint8Array> {
    const { first, last } = this.encryptor.ciphertextRange(start, end);
    const parts: Uint8Array[] = [];
    for (let i = first; i <= last; i++) {
      const [a, b] = this.encryptor.chunkPlaintextRange(i);
      const plain = await this.o.source.read(a, b);
      if (i === this.hashed) {
        this.hasher.update(plain);
        this.hashed++;
      } else if (i > this.hashed) {
        await this.hashThrough(i);
        this.hasher.update(plain);
        this.hashed++;
      }
      parts.push(this.encryptor.encryptChunk(i, plain));
    }
    const whole = concatBytes(parts);
    const offset = first * (this.chunk + FILE_TAG_BYTES);
    return whole.subarray(start - offset, end - offset);
  }

  start(): Promise<SentFile> {
    const size = this.ciphertextSize;
    const per = Math.max(1, Math.floor((this.o.requestBytes ?? DEFAULT_REQUEST_BYTES) / (this.chunk + FILE_TAG_BYTES)));
    return new Promise<SentFile>((resolve, reject) => {
      const upload = new Upload(
        new Uint8Array(0) as never,
        {
          endpoint: this.o.baseUrl + this.o.path,
          ...(this.o.resume ? { uploadUrl: this.o.resume.uploadUrl } : {}),
          uploadSize: size,
          chunkSize: per * (this.chunk + FILE_TAG_BYTES),
          metadata: { [FILE_RECIPIENTS_METADATA]: this.o.to.join(',') },
          retryDelays: this.o.retryDelays ?? KEEP_TRYING,
          storeFingerprintForResuming: false,
          removeFingerprintOnSuccess: false,
          httpStack: authenticatedStack(this.o.auth),
          fileReader: {
            openFile: async () => ({
              size,
              // tus-js-client measures a slice by its `size` (a Blob's), so a byte array carries one too.
              slice: async (start: number, end: number) => {
                const value = Object.assign(await this.ciphertext(start, Math.min(end, size)), {
                  size: Math.min(end, size) - start,
                });
                return { value, done: end >= size };
              },
              close: () => {},
            }),
          },
          // A refusal (4xx other than a conflict or a rate limit) will not go away by trying again.
          onShouldRetry: (err: DetailedError) => {
            const status = err.originalResponse?.getStatus() ?? 0;
            const retry = !this.cancelled && (status === 0 || status >= 500 || status === 409 || status === 423 || status === 429);
            if (retry) this.o.onRetry?.(transferErrorOf(err));
            return retry;
          },
          onProgress: (done: number, total: number) => this.o.onProgress?.({ done, total }),
          onUploadUrlAvailable: () => {
            const url = upload.url ?? '';
            this.o.onStarted?.({ uploadUrl: url, blobId: blobIdOf(url), contentKey: this.contentKey });
          },
          onError: (err: Error) => reject(transferErrorOf(err)),
          onSuccess: async () => {
            try {
              await this.hashThrough(this.encryptor.chunks);
              resolve({
                blobId: blobIdOf(upload.url ?? ''),
                contentKey: this.contentKey,
                sha256: this.hasher.digest(),
                size: this.o.source.size,
                chunk: this.chunk,
              });
            } catch (err) {
              reject(err);
            }
          },
        } as never,
      );
      this.upload = upload;
      upload.start();
    });
  }

  /** Stops sending; start() may be called again to go on from the node's offset. */
  async pause(): Promise<void> {
    await this.upload?.abort(false);
  }

  /** Stops and withdraws the file from the node. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await this.upload?.abort(true);
  }
}

const blobIdOf = (url: string) => url.split('/').pop() ?? '';

function transferErrorOf(err: Error): FileTransferError {
  const res = (err as DetailedError).originalResponse;
  if (res) {
    const status = res.getStatus();
    try {
      const body = JSON.parse(res.getBody()) as { error?: string; message?: string };
      if (body.error) return new FileTransferError(body.error, body.message ?? body.error, status);
    } catch {
      /* not our JSON */
    }
    return new FileTransferError(`http_${status}`, res.getBody() || `HTTP ${status}`, status);
  }
  return new FileTransferError('network', err.message);
}

// ---- download -----------------------------------------------------------------------------------------------

export interface DownloadOptions {
  baseUrl: string;
  /** '/api/files' or '/api/admin/files'. */
  path: string;
  auth: FileAuth;
  blobId: string;
  size: number;
  chunk: number;
  contentKey: Uint8Array;
  sha256: Uint8Array;
  /** Plaintext in order, chunk by chunk; only once download() resolves is the file whole and checked. */
  sink: (plain: Uint8Array) => void | Promise<void>;
  onProgress?: (p: Progress & { phase: 'arriving' | 'downloading' }) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Waits between attempts after a dropped connection or while the file is still arriving at our node. */
  retryDelayMs?: number;
  /** Attempts before giving up (default: about 10 minutes). */
  maxAttempts?: number;
}

/** Codes of a file that arrived but is not what was sent: never retried, never shown as complete. */
export const FILE_INTEGRITY_CODES = ['file_chunk_invalid', 'file_truncated', 'file_too_long', 'file_digest_mismatch'] as const;

export async function downloadFile(o: DownloadOptions): Promise<void> {
  const doFetch = o.fetch ?? fetch;
  const decryptor = new FileDecryptor(o.contentKey, o.size, o.chunk, o.sha256);
  const total = decryptor.ciphertextSize;
  const path = `${o.path}/${o.blobId}`;
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const delay = o.retryDelayMs ?? 1000;
  let attempts = 0;
  let arrived = 0;
  const maxAttempts = o.maxAttempts ?? 600;
  for (;;) {
    if (o.signal?.aborted) throw new FileTransferError('cancelled', 'The download was cancelled.');
    const from = decryptor.resumeAt();
    let res: Response;
    try {
      res = await doFetch(o.baseUrl + path, {
        headers: { ...o.auth.headers('GET', path), ...(from > 0 ? { range: `bytes=${from}-` } : {}) },
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (err) {
      if (o.signal?.aborted) throw new FileTransferError('cancelled', 'The download was cancelled.');
      if (++attempts >= maxAttempts) throw new FileTransferError('network', (err as Error).message);
      await wait(delay);
      continue;
    }
    // 409: on its way to our node; 404: not announced to our node yet (the message can overtake the file on
    // another path). Either waits; the count starts again whenever more of the file has reached the node.
    if (res.status === 409 || (res.status === 404 && arrived === 0)) {
      const body = (await res.json().catch(() => ({}))) as { received?: number; size?: number };
      const received = body.received ?? 0;
      if (received > arrived) attempts = 0;
      arrived = Math.max(arrived, received);
      o.onProgress?.({ phase: 'arriving', done: received, total: body.size ?? total });
      if (++attempts >= maxAttempts)
        throw res.status === 404
          ? new FileTransferError('blob_unknown', 'The file never reached this node (cancelled by its sender, or expired).', 404)
          : new FileTransferError('blob_not_ready', 'The file did not reach this node in time.');
      await wait(delay);
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
      if (res.status >= 500 && ++attempts < maxAttempts) {
        await wait(delay);
        continue;
      }
      throw new FileTransferError(body.error ?? `http_${res.status}`, body.message ?? `HTTP ${res.status}`, res.status);
    }
    // A 200 is the whole file: start over with a fresh decryptor only if we asked for a range and did not get one.
    if (res.status === 200 && from > 0) throw new FileTransferError('invalid_request', 'The node ignored the range.');
    try {
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const plain of decryptor.push(value)) await o.sink(plain);
        o.onProgress?.({ phase: 'downloading', done: decryptor.position, total });
      }
    } catch (err) {
      if (isE2eeError(err)) throw new FileTransferError(err.code, err.message);
      if (o.signal?.aborted) throw new FileTransferError('cancelled', 'The download was cancelled.');
      if (++attempts >= maxAttempts) throw new FileTransferError('network', (err as Error).message);
      decryptor.dropPartial();
      await wait(delay);
      continue;
    }
    if (decryptor.position < total && !decryptor.sawFinal) {
      // The connection ended early: go on from the last whole chunk.
      decryptor.dropPartial();
      if (++attempts >= maxAttempts) throw new FileTransferError('file_truncated', 'The download kept breaking off.');
      continue;
    }
    try {
      const rest = decryptor.finish();
      for (const plain of rest) await o.sink(plain);
    } catch (err) {
      if (isE2eeError(err)) throw new FileTransferError(err.code, err.message);
      throw err;
    }
    o.onProgress?.({ phase: 'downloading', done: total, total });
    return;
  }
}

/** base64url of the key, for the manifest. */
export const keyText = (k: Uint8Array) => toBase64Url(k);
