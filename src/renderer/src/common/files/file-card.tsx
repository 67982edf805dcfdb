// A file in a conversation: its name, size and kind, the sender's thumbnail when there is one, and what can be
// done with it now. Sending: the progress bar and Cancel. Received: Download (with its own bar and Cancel), then
// Save and, for an image, the image itself. A file that was refused says why, and offers nothing to save or see.
import type { FileThumb } from '../../../../shared/e2ee/file-manifest.js';
import type { TransferView } from './file-transfers.js';
import { bytesText, fileKindText, isRefusedFile, refusedFileText, transferErrorText } from './file-words.js';
import { thumbnailUrl } from './thumbnail.js';
import { TransferBar } from './transfer-bar.js';

export interface FileFacts {
  name: string;
  type: string;
  size: number;
  thumb?: FileThumb | undefined;
}

export interface FileCardProps {
  file: FileFacts;
  dir: 'in' | 'out';
  transfer: TransferView | undefined;
  nodeReachable: boolean;
  /** Received files only (and only when this page can fetch files). */
  onDownload?: (() => void) | undefined;
  onCancel?: (() => void) | undefined;
  onDismiss?: (() => void) | undefined;
}

const ACTIVE = new Set(['queued', 'preparing', 'running', 'waiting', 'arriving']);

export function FileCard({ file, dir, transfer, nodeReachable, onDownload, onCancel, onDismiss }: FileCardProps) {
  const active = transfer !== undefined && ACTIVE.has(transfer.state);
  const failed = transfer?.state === 'failed';
  const refused = failed && isRefusedFile(transfer.error);
  const fetched = transfer?.state === 'done' && transfer.dir === 'down' ? transfer : undefined;
  const verb = dir === 'out' ? 'sending' : 'the download of';
  const downloadText = failed || transfer?.state === 'cancelled' ? 'Download again' : 'Download';
  return (
    <div class="file-card" data-testid="file-card" data-file-type={file.type} data-refused={refused ? 'true' : undefined}>
      <div class="file-head">
        {file.thumb && !fetched?.inline ? (
          <img
            class="file-thumb"
            data-testid="file-thumb"
            src={thumbnailUrl(file.thumb)}
            width={file.thumb.w}
            height={file.thumb.h}
            alt={`Preview of ${file.name}`}
          />
        ) : null}
        <span class="file-about">
          <span class="file-name" data-testid="file-name">
            {file.name}
          </span>
          <span class="file-facts" data-testid="file-facts">
            {bytesText(file.size)} · {fileKindText(file.type)}
          </span>
        </span>
      </div>
      {fetched?.inline && fetched.url ? <img class="file-inline" data-testid="file-inline" src={fetched.url} alt={file.name} /> : null}
      {transfer && !failed && transfer.state !== 'cancelled' ? <TransferBar view={transfer} nodeReachable={nodeReachable} /> : null}
      {refused ? (
        <p class="field-error" role="alert" data-testid="file-error" data-code={transfer.error}>
          {refusedFileText(transfer.error ?? '')}
        </p>
      ) : failed ? (
        <p class="field-error" role="alert" data-testid="file-error" data-code={transfer.error}>
          {dir === 'out' ? 'Not sent' : 'Not downloaded'}: {transferErrorText(transfer.error ?? '', transfer.errorMessage)}.
        </p>
      ) : null}
      <span class="file-actions">
        {active && onCancel ? (
          <button type="button" data-testid="file-cancel" aria-label={`Cancel ${verb} ${file.name}`} onClick={onCancel}>
            Cancel
          </button>
        ) : null}
        {dir === 'in' && onDownload && !active && !fetched && !refused ? (
          <button
            type="button"
            class="primary"
            data-testid="file-download"
            aria-label={`${downloadText} ${file.name}`}
            onClick={onDownload}
          >
            {downloadText}
          </button>
        ) : null}
        {fetched?.url ? (
          <a class="button" data-testid="file-save" href={fetched.url} download={file.name} aria-label={`Save ${file.name}`}>
            Save
          </a>
        ) : null}
        {dir === 'out' && failed && onDismiss ? (
          <button type="button" data-testid="file-dismiss" aria-label={`Dismiss ${file.name}`} onClick={onDismiss}>
            Dismiss
          </button>
        ) : null}
      </span>
    </div>
  );
}
