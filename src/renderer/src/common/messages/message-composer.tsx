// Where a message is written (the form): a textarea (Enter sends, Shift+Enter starts a new line) and Send.
import { useRef, useState } from 'preact/hooks';
import { MAX_TEXT_CHARS } from '../../../../shared/client/messaging-client.js';

export function MessageComposer({ disabled, onSend }: { disabled: boolean; onSend: (text: string) => Promise<boolean> }) {
  const [text, setText] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);
  const send = async () => {
    if (!text.trim()) {
      area.current?.focus();
      return;
    }
    if (await onSend(text)) setText('');
    area.current?.focus();
  };
  return (
    <form
      class="stack composer"
      data-testid="message-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!disabled) void send();
      }}
    >
      <label for="message-text" class="sr-only">
        Message
      </label>
      <span class="inline-form">
        <textarea
          id="message-text"
          data-testid="message-text"
          name="text"
          rows={2}
          maxLength={MAX_TEXT_CHARS}
          autocomplete="off"
          placeholder="Write a message (Shift+Enter for a new line)"
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            // An IME composing a word uses Enter to pick it: that is not "send".
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              if (!disabled) void send();
            }
          }}
        />
        <button type="submit" class="primary" data-testid="message-send" disabled={disabled}>
          Send
        </button>
      </span>
    </form>
  );
}
