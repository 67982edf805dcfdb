// The node's client of the cloud's blob store (docs/cloud.md "Blobs", docs/files.md "Cloud"): offer a ciphertext
// the cloud may already hold (content addressing by SHA-256), upload it with tus (resumable from a stored upload
// URL, also after a restart of the node), list what waits for this node, download with HTTP Range, say when this
// node has a blob. Plain Node (no electron); every call carries the node's cloud token (`Authorization: Noise`).
// Failures are CloudCallError, as for the cloud's other routes: `unreachable` without an HTTP answer, else
// `rejected` with the cloud's status and stable code (e.g. 404 blob_unknown, 413 quota_exceeded).
import { type DetailedError, type HttpRequest, type HttpResponse, Upload } from 'tus-js-client';
import type { z } from 'zod';
import { CLOUD_ERROR_HEADER, CloudErrorBody } from '../../../shared/wire/cloud.js';
import {
  BLOB_METADATA,
  BLOBS_PATH,
  type BlobRecipients,
  type IncomingCloudBlob,
  type OfferBlobRequest,
} from '../../../shared/wire/cloud-blobs.js';
import { CLOUD_ENDPOINTS } from '../../../shared/wire/cloud-endpoints.js';
import { type Endpoint, pathWith, type ResponseOf } from '../../../shared/wire/endpoint.js';
import { CLOUD_CALL_TIMEOUT_MS, CloudCallError } from './cloud-api.js';
import { idleDeadline } from './idle-deadline.js';

export type { IncomingCloudBlob };

export interface CloudBlobUploadOptions {
  /** Hex SHA-256 of the whole ciphertext (the cloud checks it at the last byte). */
  sha256: string;
  /** Ciphertext bytes. */
  size: number;
  to: BlobRecipients;
  /** This node's own id for the blob (handed back to the recipients as `ref`). */
  ref: string;
  /** The sending device. */
  from: string;
  /** Ciphertext bytes [start, end); called once per request with at most `chunkSize` bytes. */
  read: (start: number, end: number) => Promise<Uint8Array>;
  /** Resume the upload made earlier at this URL (what onUploadUrl gave); a URL the cloud no longer knows starts over. */
  uploadUrl?: string;
  /** The upload exists at the cloud: keep this URL to resume after a restart. */
  onUploadUrl?: (url: string) => void;
  onProgress?: (sent: number, total: number) => void;
  /** Bytes per PATCH (default 8 MiB): also what one read() holds in memory. */
  chunkSize?: number;
  /** Waits between retries after a dropped connection or a 5xx (tus-js-client's retryDelays). */
  retryDelays?: number[];
  /** Stops the upload (the bytes the cloud has stay, to resume from); upload() then rejects with code `aborted`. */
  signal?: AbortSignal;
}

const DEFAULT_CHUNK = 8 * 1024 * 1024;
const DEFAULT_RETRIES = [0, 1000, 3000, 10_000, 30_000];

type FetchLike = typeof fetch;

export class CloudBlobs {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: () => Promise<string> | string,
    private readonly fetchImpl: FetchLike = fetch,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /**
   * Content addressing: if the cloud holds this ciphertext whole, it is now also for `to` (true). False: the cloud
   * does not have it (404 blob_unknown); upload it.
   */
  async offer(sha256: string, to: BlobRecipients, ref: string, from: string): Promise<boolean> {
    const body: OfferBlobRequest = { to, ref, from };
    try {
      await this.call(CLOUD_ENDPOINTS.blobOffer, { sha256 }, body);
      return true;
    } catch (err) {
      if (err instanceof CloudCallError && err.status === 404 && err.cloudError === 'blob_unknown') return false;
      throw err;
    }
  }

  /** Uploads the ciphertext with tus; resolves once the cloud has checked it against `sha256` and holds it. */
  upload(o: CloudBlobUploadOptions): Promise<void> {
    const chunkSize = Math.max(1, o.chunkSize ?? DEFAULT_CHUNK);
    const meta: Record<string, string> = {
      [BLOB_METADATA.sha256]: o.sha256,
      [BLOB_METADATA.to]: JSON.stringify(o.to),
      [BLOB_METADATA.ref]: o.ref,
      [BLOB_METADATA.from]: o.from,
    };
    return new Promise<void>((resolve, reject) => {
      if (o.signal?.aborted) return reject(aborted());
      let stopped = false;
      const upload = new Upload(
        new Uint8Array(0) as never,
        {
          endpoint: this.base + BLOBS_PATH,
          ...(o.uploadUrl ? { uploadUrl: o.uploadUrl } : {}),
          uploadSize: o.size,
          chunkSize,
          metadata: meta,
          retryDelays: o.retryDelays ?? DEFAULT_RETRIES,
          storeFingerprintForResuming: false,
          removeFingerprintOnSuccess: false,
          fileReader: {
            openFile: async () => ({
              size: o.size,
              slice: async (start: number, end: number) => {
                const stop = Math.min(end, o.size);
                // tus-js-client measures a slice by its `size` (a Blob's), so the byte array carries one too.
                const value = Object.assign(await o.read(start, stop), { size: stop - start });
                return { value, done: stop >= o.size };
              },
              close: () => {},
            }),
          },
          onBeforeRequest: async (req: HttpRequest) => {
            req.setHeader('authorization', `Noise ${await this.token()}`);
          },
          onShouldRetry: (err: DetailedError) => {
            const status = err.originalResponse?.getStatus() ?? 0;
            // A refusal (a 4xx but a conflict or a rate limit; a full disk) will not go away by sending it again.
            return !stopped && (status === 0 || (status >= 500 && status !== 507) || status === 409 || status === 423 || status === 429);
          },
          onProgress: (sent: number, total: number) => o.onProgress?.(sent, total),
          onUploadUrlAvailable: () => {
            if (upload.url) o.onUploadUrl?.(upload.url);
          },
          onError: (err: Error) => {
            if (stopped) return;
            cleanup();
            reject(callErrorOf(err, this.base));
          },
          onSuccess: () => {
            cleanup();
            resolve();
          },
        } as never,
      );
      const onAbort = () => {
        stopped = true;
        cleanup();
        void upload.abort(false).finally(() => reject(aborted()));
      };
      const cleanup = () => o.signal?.removeEventListener('abort', onAbort);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      upload.start();
    });
  }

  /** Complete blobs for this node's devices that it has not marked received (oldest first, at most 1000). */
  async incoming(): Promise<IncomingCloudBlob[]> {
    return (await this.call(CLOUD_ENDPOINTS.blobIncoming, {})).blobs;
  }

  /**
   * The ciphertext from byte `fromOffset` on (HTTP Range), as a stream of chunks. Asking from the end of the blob
   * gives an empty stream.
   */
  async download(sha256: string, fromOffset = 0, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const path = `${BLOBS_PATH}/${encodeURIComponent(sha256)}`;
    const deadline = idleDeadline(
      CLOUD_CALL_TIMEOUT_MS,
      () => new CloudCallError('unreachable', 0, 'timeout', `${this.base} stopped sending ${sha256.slice(0, 12)}…`),
      signal,
    );
    let watching = false;
    try {
      const res = await this.send(path, {
        method: 'GET',
        headers: fromOffset > 0 ? { range: `bytes=${fromOffset}-` } : {},
        signal: deadline.signal,
      });
      if (res.status === 416) {
        const total = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
        if (total !== undefined && Number(total) === fromOffset) {
          await res.body?.cancel();
          return emptyStream();
        }
      }
      if (res.status !== 200 && res.status !== 206) throw await refusalOf(res);
      if (fromOffset > 0 && res.status !== 206) {
        await res.body?.cancel();
        throw new CloudCallError('rejected', res.status, 'bad_response', 'The cloud ignored the Range of a blob download.');
      }
      if (!res.body) return emptyStream();
      // The whole body may take far longer than one call's deadline: only a silence that long stops it.
      watching = true;
      return deadline.watch(res.body);
    } catch (err) {
      throw deadline.signal.reason instanceof CloudCallError ? deadline.signal.reason : err;
    } finally {
      // Every way out but a body being read stops the clock here; the watched body stops it when it ends.
      if (!watching) deadline.clear();
    }
  }

  /** This node has the blob: the cloud may let it go once every recipient node has it. */
  async received(sha256: string): Promise<void> {
    await this.call(CLOUD_ENDPOINTS.blobReceived, { sha256 });
  }

  // ---- plumbing ----------------------------------------------------------------------------------------------

  private async send(path: string, init: RequestInit): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string>), authorization: `Noise ${await this.token()}` };
    try {
      return await this.fetchImpl(this.base + path, {
        ...init,
        headers,
        signal: init.signal ?? AbortSignal.timeout(CLOUD_CALL_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new CloudCallError('unreachable', 0, 'unreachable', `cannot reach ${this.base}: ${cause ?? (err as Error).message}`);
    }
  }

  private async call<E extends Endpoint>(ep: E, params: Record<string, string>, body?: unknown): Promise<ResponseOf<E>> {
    const path = pathWith(ep.path, params);
    const res = await this.send(path, {
      method: ep.method.toUpperCase(),
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw await refusalOf(res);
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new CloudCallError('rejected', res.status, 'bad_response', `${this.base}${path} did not answer JSON; is this a Salita cloud?`);
    }
    const schema = ep.response?.schema as z.ZodType | undefined;
    if (!schema) return json as ResponseOf<E>;
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new CloudCallError(
        'rejected',
        res.status,
        'bad_response',
        `the cloud's answer to ${ep.method.toUpperCase()} ${ep.path} is malformed`,
      );
    return parsed.data as ResponseOf<E>;
  }
}

const aborted = () => new CloudCallError('rejected', 0, 'aborted', 'The upload was stopped; it can be resumed from its upload URL.');

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

async function refusalOf(res: Response): Promise<CloudCallError> {
  const text = await res.text().catch(() => '');
  return refusalFrom(res.status, text, res.headers.get(CLOUD_ERROR_HEADER));
}

function refusalFrom(status: number, text: string, header: string | null): CloudCallError {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  // A proxy in front of the cloud may answer with its own page: then the header or the status is all we have.
  const b = CloudErrorBody.partial().safeParse(body ?? {});
  const code = (b.success ? b.data.error : undefined) ?? header ?? `http_${status}`;
  const message = (b.success ? b.data.message : undefined) ?? `the cloud answered ${status}`;
  return new CloudCallError('rejected', status, code, message);
}

function callErrorOf(err: Error, base: string): CloudCallError {
  const res = (err as DetailedError).originalResponse as HttpResponse | null | undefined;
  if (res) return refusalFrom(res.getStatus(), res.getBody() ?? '', res.getHeader(CLOUD_ERROR_HEADER) ?? null);
  return new CloudCallError('unreachable', 0, 'unreachable', `cannot reach ${base}: ${err.message}`);
}
