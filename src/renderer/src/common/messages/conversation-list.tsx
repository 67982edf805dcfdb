// The list of conversations: each device with its icon, name, last message in one line, when, and how many
// incoming messages are unread. Choosing one opens that conversation.
import { DeviceIcon, deviceShape } from '../device-icon.js';
import { relativeTime } from '../dom.js';
import type { ConversationSummary } from './conversation-summaries.js';

export type DeviceInfoOf = (deviceId: string) => Readonly<Record<string, unknown>> | undefined;

export function ConversationList({
  entries,
  selected,
  now,
  deviceInfo,
  onOpen,
}: {
  entries: readonly ConversationSummary[];
  selected: string | undefined;
  now: number;
  deviceInfo?: DeviceInfoOf | undefined;
  onOpen: (peer: string) => void;
}) {
  if (entries.length === 0) return null;
  return (
    <ul class="conversations" data-testid="conversation-list" aria-label="Conversations">
      {entries.map((e) => (
        <li key={e.peer}>
          <button
            type="button"
            class="conversation"
            data-testid="conversation"
            data-peer={e.peer}
            data-unread={String(e.unread)}
            aria-current={e.peer === selected ? 'true' : undefined}
            onClick={() => onOpen(e.peer)}
          >
            <DeviceIcon shape={deviceShape(e.kind, deviceInfo?.(e.peer))} />
            <span class="conversation-main">
              <span class="conversation-head">
                <span class="conversation-name" data-testid="conversation-name">
                  {e.name}
                  {e.where ? <span class="conversation-where"> · {e.where}</span> : null}
                </span>
                {e.last ? (
                  <time
                    class="conversation-time"
                    data-testid="conversation-time"
                    dateTime={e.last.sent_at}
                    title={new Date(e.last.sent_at).toLocaleString()}
                  >
                    {relativeTime(e.last.sent_at, now)}
                  </time>
                ) : null}
              </span>
              <span class="conversation-preview" data-testid="conversation-preview">
                {e.last ? `${e.last.dir === 'out' ? 'You: ' : ''}${e.preview}` : e.gone ? 'Not in the list now' : 'No messages yet'}
              </span>
            </span>
            {e.unread > 0 ? (
              <span class="badge unread" data-testid="conversation-unread" data-count={e.unread}>
                {e.unread}
                <span class="sr-only"> unread</span>
              </span>
            ) : null}
          </button>
        </li>
      ))}
    </ul>
  );
}
