// What the pages show of one file transfer (FileTransfers keeps them, the components and words read them).
import type { FileThumb } from '../../../../shared/e2ee/file-manifest.js';

export type TransferState =
  /** An upload waiting for the one before it. */
  | 'queued'
  /** An upload making its thumbnail, or its manifest being sealed. */
  | 'preparing'
  | 'running'
  /** The node could not be reached: the transfer goes on by itself once it is back. */
  | 'waiting'
  /** A download whose file is still on its way to this device's node (from another desktop, the cloud). */
  | 'arriving'
  | 'done'
  | 'failed'
  | 'cancelled';

export interface TransferView {
  /** An upload's own id (it has no message before it is sent), a download's message id. */
  key: string;
  dir: 'up' | 'down';
  peer: string;
  name: string;
  type: string;
  size: number;
  thumb?: FileThumb;
  state: TransferState;
  /** Bytes done and in all (ciphertext, which is what moves). */
  done: number;
  total: number;
  bytesPerSec?: number;
  secondsLeft?: number;
  /** A failure's stable code; refused files carry an integrity code (isRefusedFile). */
  error?: string;
  errorMessage?: string;
  /** An upload: the message that carries its manifest, once sealed. */
  messageId?: string;
  /** A download that checked out: the file, and whether it may be shown in the page. */
  url?: string;
  inline?: boolean;
}
