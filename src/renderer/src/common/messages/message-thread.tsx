// One conversation, oldest first: each message with its text (line breaks kept), who, when in words (the
// full local time on hover), and for a sent one its status and route. A file message shows its file (FileCard),
// and files still being uploaded, not yet messages, come last with their progress.
import type { ConversationMessage } from '../conversation.js';
import { relativeTime } from '../dom.js';
import { FileCard } from '../files/file-card.js';
import type { FileTransfers, TransferView } from '../files/file-transfers.js';
import { refusedFileText } from '../files/file-words.js';
import { routeText, statusText } from '../message-words.js';

function cannotOpenText(code: string): string {
  if (code === 'invalid_file') return refusedFileText(code);
  return code === 'unknown_sender' ? 'Could not be decrypted: the sender is not in the key directory.' : 'Could not be decrypted.';
}

function bodyText(m: ConversationMessage): string {
  if (m.text !== null) return m.text;
  return m.dir === 'in' ? cannotOpenText(m.error ?? '') : '(sent from this device earlier; the text was not kept here)';
}

export interface ThreadFiles {
  transfers: FileTransfers | undefined;
  /** Every transfer by key (the store's, so the thread re-renders on progress). */
  byKey: Readonly<Record<string, TransferView>>;
  /** Uploads to this conversation's device not yet sent as messages. */
  pending: readonly TransferView[];
  nodeReachable: boolean;
}

export function MessageThread({
  messages,
  nameOf,
  now,
  files,
}: {
  messages: readonly ConversationMessage[];
  nameOf: (id: string) => string;
  now: number;
  files: ThreadFiles;
}) {
  const { transfers, byKey } = files;
  const uploadOf = (id: string) => Object.values(byKey).find((v) => v.dir === 'up' && v.messageId === id);
  return (
    <ol class="messages" data-testid="message-list" aria-live="polite" aria-label="Conversation">
      {messages.map((m) => (
        <li
          key={m.id}
          class={`message ${m.dir}`}
          data-testid="message"
          data-dir={m.dir}
          data-id={m.id}
          data-status={m.dir === 'out' ? m.status : undefined}
        >
          {m.file ? (
            <FileCard
              file={m.file}
              dir={m.dir}
              transfer={m.dir === 'in' ? byKey[m.id] : uploadOf(m.id)}
              nodeReachable={files.nodeReachable}
              onDownload={transfers && m.dir === 'in' ? () => void transfers.download(m.id, m.peer, m.file!) : undefined}
              onCancel={transfers && m.dir === 'in' ? () => transfers.cancel(m.id) : undefined}
            />
          ) : (
            <span
              class="message-text"
              data-role="text"
              data-testid="message-body"
              data-unreadable={String(m.text === null)}
              data-error={m.dir === 'in' ? m.error : undefined}
            >
              {bodyText(m)}
            </span>
          )}
          <span class="message-meta" data-role="meta">
            <span data-role="who">{m.dir === 'out' ? (m.via ? `You, on ${nameOf(m.via)}` : 'You') : nameOf(m.author ?? m.peer)}</span>
            {' · '}
            <time data-role="when" data-testid="message-time" dateTime={m.sent_at} title={new Date(m.sent_at).toLocaleString()}>
              {relativeTime(m.sent_at, now)}
            </time>
            <span
              class="sep-before message-status"
              data-role="status"
              data-testid="message-status"
              data-status={m.dir === 'out' ? m.status : undefined}
            >
              {m.dir === 'out' ? statusText(m.status, m.error) : ''}
            </span>
            <span
              class="sep-before message-route"
              data-role="route"
              data-testid="message-route"
              data-route={m.dir === 'out' ? m.route : undefined}
            >
              {m.dir === 'out' ? routeText(m.status, m.route) : ''}
            </span>
          </span>
        </li>
      ))}
      {files.pending.map((v) => (
        <li key={v.key} class="message out" data-testid="file-upload" data-key={v.key} data-state={v.state}>
          <FileCard
            file={v}
            dir="out"
            transfer={v}
            nodeReachable={files.nodeReachable}
            onCancel={transfers ? () => transfers.cancel(v.key) : undefined}
            onDismiss={transfers ? () => transfers.dismiss(v.key) : undefined}
          />
        </li>
      ))}
    </ol>
  );
}
