// How a message is said in one line (the conversation list, a notification): its first non-empty line,
// shortened. No DOM, so it is tested in Node.
import type { ConversationMessage } from '../conversation.js';

export const PREVIEW_CHARS = 80;

/** The first line with any text, trimmed and cut at `max` characters (with an ellipsis). */
export function firstLine(text: string, max = PREVIEW_CHARS): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const t = line.trim();
  return t.length > max ? `${t.slice(0, max - 1).trimEnd()}…` : t;
}

/** A message in one line; one that could not be opened, or whose text was not kept, says so instead. */
export function previewOf(m: ConversationMessage): string {
  if (m.text !== null) return m.file ? `File: ${firstLine(m.text)}` : firstLine(m.text);
  if (m.dir === 'in' && m.error === 'invalid_file') return 'A file that was refused';
  return m.dir === 'in' ? 'Could not be decrypted' : '(text not kept on this device)';
}
