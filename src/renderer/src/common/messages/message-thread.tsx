// One conversation, oldest first: each message with its text (line breaks kept), who, when in words (the
// full local time on hover), and for a sent one its status and route.
import type { ConversationMessage } from '../conversation.js';
import { relativeTime } from '../dom.js';
import { routeText, statusText } from '../message-words.js';

function cannotOpenText(code: string): string {
  return code === 'unknown_sender' ? 'Could not be decrypted: the sender is not in the key directory.' : 'Could not be decrypted.';
}

function bodyText(m: ConversationMessage): string {
  if (m.text !== null) return m.text;
  return m.dir === 'in' ? cannotOpenText(m.error ?? '') : '(sent from this device earlier; the text was not kept here)';
}

export function MessageThread({
  messages,
  nameOf,
  now,
}: {
  messages: readonly ConversationMessage[];
  nameOf: (id: string) => string;
  now: number;
}) {
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
          <span class="message-text" data-role="text" data-testid="message-body" data-unreadable={String(m.text === null)}>
            {bodyText(m)}
          </span>
          <span class="message-meta" data-role="meta">
            <span data-role="who">{m.dir === 'out' ? 'You' : nameOf(m.peer)}</span>
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
    </ol>
  );
}
