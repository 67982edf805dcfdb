// The files a page is sending and fetching, and how far each has got: uploads to this device's node with
// FileUpload (encrypted as they go, resumed by tus after the node was away), downloads with downloadFile
// (decrypted and checked as they come). One Store holds a view of each for the components; the bytes of a
// fetched file become an object URL only once the whole file checked out. No sealing here: the
// MessagingSession sends the manifest once an upload is done.
import { blobSource, downloadFile, type FileAuth, FileTransferError, FileUpload } from '../../../../shared/client/file-client.js';
import { downloadKeys, fileManifest, fileNameOf, fileTypeOf, UNKNOWN_FILE_TYPE } from '../../../../shared/client/file-message.js';
import type { FileManifest } from '../../../../shared/e2ee/file-manifest.js';
import { Store } from '../store.js';
import { isRasterImage, makeThumbnail } from './thumbnail.js';
import { RateMeter } from './transfer-rate.js';
import type { TransferState, TransferView } from './transfer-view.js';

export type { TransferState, TransferView } from './transfer-view.js';

/** Where this device's node takes and gives files, and how to tell it a file arrived whole. */
export interface FileEndpoint {
  /** The node's origin (the page's own). */
  baseUrl: string;
  /** '/api/files' (the phone page, signed) or '/api/admin/files' (the desktop UI, admin token). */
  path: string;
  auth: FileAuth;
  received(blobId: string): Promise<unknown>;
}

/** Types shown in the page once fetched: raster images a browser draws without running anything. */
export const showsInline = isRasterImage;

/** Progress is shown at most this often (XHR reports it far more often). */
const PROGRESS_EVERY_MS = 150;

interface Running {
  meter: RateMeter;
  stop: () => void;
  lastShown: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class FileTransfers {
  readonly store = new Store<{ byKey: Readonly<Record<string, TransferView>> }>({ byKey: {} });
  private readonly running = new Map<string, Running>();
  private seq = 0;

  constructor(readonly endpoint: FileEndpoint) {}

  get(key: string): TransferView | undefined {
    return this.store.get().byKey[key];
  }

  private put(view: TransferView): void {
    this.store.set((s) => ({ byKey: { ...s.byKey, [view.key]: view } }));
  }

  private patch(key: string, patch: Partial<TransferView>): void {
    const v = this.get(key);
    if (v) this.put({ ...v, ...patch });
  }

  private remove(key: string): void {
    this.store.set((s) => {
      const { [key]: _gone, ...rest } = s.byKey;
      return { byKey: rest };
    });
  }

  /** Progress as it comes, shown at most every PROGRESS_EVERY_MS (a state change is shown at once). */
  private progress(key: string, done: number, total: number, state: TransferState): void {
    const r = this.running.get(key);
    const v = this.get(key);
    if (!r || !v) return;
    const now = performance.now();
    const rate = r.meter.push(done, total, now);
    const patch = { done, total, state, bytesPerSec: rate.bytesPerSec, secondsLeft: rate.secondsLeft };
    clearTimeout(r.timer);
    r.timer = undefined;
    if (v.state !== state || now - r.lastShown >= PROGRESS_EVERY_MS) {
      r.lastShown = now;
      this.patch(key, patch);
    } else {
      r.timer = setTimeout(() => {
        r.lastShown = performance.now();
        if (this.running.get(key) === r) this.patch(key, patch);
      }, PROGRESS_EVERY_MS);
    }
  }

  private finish(key: string, patch: Partial<TransferView>): void {
    const r = this.running.get(key);
    if (r) clearTimeout(r.timer);
    this.running.delete(key);
    this.patch(key, { ...patch, bytesPerSec: undefined, secondsLeft: undefined });
  }

  /** Shows `file` as queued for `peer` at once; returns its key for upload(). */
  queueUpload(file: File, peer: string): string {
    const key = `up-${Date.now().toString(36)}-${++this.seq}`;
    this.put({
      key,
      dir: 'up',
      peer,
      name: fileNameOf(file.name),
      type: fileTypeOf(file.type),
      size: file.size,
      state: 'queued',
      done: 0,
      total: file.size,
    });
    return key;
  }

  /**
   * Makes the thumbnail, then uploads `file` for `to` to this device's node. Resolves with the manifest to send,
   * or undefined when the upload was cancelled or failed (the view says which, and why).
   */
  async upload(key: string, file: File, to: string[]): Promise<FileManifest | undefined> {
    const v = this.get(key);
    if (!v || v.state === 'cancelled') return undefined;
    let cancel!: () => void;
    const cancelled = new Promise<undefined>((resolve) => {
      cancel = () => resolve(undefined);
    });
    let upload: FileUpload | undefined;
    const r: Running = {
      meter: new RateMeter(),
      lastShown: 0,
      timer: undefined,
      stop: () => {
        cancel();
        // tus DELETE: the node drops the bytes it has and withdraws the deliveries.
        void upload?.cancel().catch(() => undefined);
      },
    };
    this.running.set(key, r);
    this.patch(key, { state: 'preparing' });
    const thumb = await makeThumbnail(file);
    if (this.running.get(key) !== r) return undefined; // cancelled while the thumbnail was made
    upload = new FileUpload({
      baseUrl: this.endpoint.baseUrl,
      path: this.endpoint.path,
      auth: this.endpoint.auth,
      to,
      source: blobSource(file),
      onProgress: (p) => this.progress(key, p.done, p.total, 'running'),
      onRetry: () => {
        r.meter.reset();
        const now = this.get(key);
        if (now && now.state !== 'waiting') this.patch(key, { state: 'waiting', bytesPerSec: undefined, secondsLeft: undefined });
      },
    });
    this.patch(key, { state: 'running', total: upload.ciphertextSize, ...(thumb ? { thumb } : {}) });
    try {
      const sent = await Promise.race([upload.start(), cancelled]);
      if (!sent || this.running.get(key) !== r) return undefined;
      this.progress(key, upload.ciphertextSize, upload.ciphertextSize, 'preparing');
      return fileManifest(sent, { name: file.name, type: file.type || UNKNOWN_FILE_TYPE, ...(thumb ? { thumb } : {}) });
    } catch (err) {
      if (this.running.get(key) !== r) return undefined;
      const e = err instanceof FileTransferError ? err : new FileTransferError('upload_failed', String(err));
      this.finish(key, { state: 'failed', error: e.code, errorMessage: e.message });
      return undefined;
    }
  }

  /** The upload's manifest was sealed as message `messageId`: the transfer is done and shown with that message. */
  sent(key: string, messageId: string): void {
    const v = this.get(key);
    this.finish(key, { state: 'done', messageId, done: v?.total ?? 0 });
  }

  /** Sealing or sending the manifest failed: the file is on the node, but nobody was told of it. */
  notSent(key: string, code: string, message: string): void {
    this.finish(key, { state: 'failed', error: code, errorMessage: message });
  }

  /** Fetches, decrypts and checks the file of message `messageId`; the view ends with its object URL or why not. */
  async download(messageId: string, peer: string, m: FileManifest): Promise<void> {
    if (this.running.has(messageId) || this.get(messageId)?.state === 'done') return;
    const ac = new AbortController();
    const r: Running = { meter: new RateMeter(), lastShown: 0, timer: undefined, stop: () => ac.abort() };
    this.running.set(messageId, r);
    this.put({
      key: messageId,
      dir: 'down',
      peer,
      name: m.name,
      type: m.type,
      size: m.size,
      ...(m.thumb ? { thumb: m.thumb } : {}),
      state: 'running',
      done: 0,
      total: m.size,
    });
    const parts: Uint8Array[] = [];
    try {
      await downloadFile({
        baseUrl: this.endpoint.baseUrl,
        path: this.endpoint.path,
        auth: this.endpoint.auth,
        ...downloadKeys(m),
        sink: (plain) => {
          parts.push(plain);
        },
        signal: ac.signal,
        onProgress: (p) => this.progress(messageId, p.done, p.total, p.phase === 'arriving' ? 'arriving' : 'running'),
      });
    } catch (err) {
      if (this.running.get(messageId) !== r) return;
      const e = err instanceof FileTransferError ? err : new FileTransferError('download_failed', String(err));
      parts.length = 0; // a refused file is dropped whole
      this.finish(messageId, {
        state: e.code === 'cancelled' ? 'cancelled' : 'failed',
        error: e.code === 'cancelled' ? undefined : e.code,
        errorMessage: e.message,
      });
      return;
    }
    const inline = showsInline(m.type);
    // Only a type shown inline keeps its own: any other is saved as plain bytes, so an HTML file opened from its
    // object URL is never a page of this origin.
    const url = URL.createObjectURL(new Blob(parts as BlobPart[], { type: inline ? m.type : UNKNOWN_FILE_TYPE }));
    const total = this.get(messageId)?.total ?? m.size;
    this.finish(messageId, { state: 'done', done: total, url, inline, error: undefined });
    void this.endpoint.received(m.blob).catch(() => undefined); // the node may drop its copy; no harm if it is not told
  }

  /** Stops a transfer: an upload is withdrawn from the node, a download may be started again. */
  cancel(key: string): void {
    const v = this.get(key);
    const r = this.running.get(key);
    if (r) {
      clearTimeout(r.timer);
      this.running.delete(key);
      r.stop();
    }
    if (!v) return;
    // An upload never became a message: it leaves the conversation.
    if (v.dir === 'up') this.remove(key);
    else this.patch(key, { state: 'cancelled', bytesPerSec: undefined, secondsLeft: undefined });
  }

  /** Forgets a failed upload the person has read about. */
  dismiss(key: string): void {
    const v = this.get(key);
    if (v && !this.running.has(key) && (v.state === 'failed' || v.state === 'cancelled')) this.remove(key);
  }
}
