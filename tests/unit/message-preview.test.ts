// A message in one line (conversation list, notifications): its first line with text, trimmed and cut with
// an ellipsis; a message that could not be opened never shows any text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { firstLine, PREVIEW_CHARS, previewOf } from '../../src/renderer/src/common/messages/message-preview.js';

describe('message preview', () => {
  test('the first line that has text', () => {
    assert.equal(firstLine('Hello\nsecond line'), 'Hello');
    assert.equal(firstLine('\r\n   \r\n  Dinner?  \r\nLater'), 'Dinner?');
    assert.equal(firstLine(''), '');
    assert.equal(firstLine('\n\n'), '');
  });

  test('a long line is cut with an ellipsis, at most the limit', () => {
    const long = 'word '.repeat(60);
    const p = firstLine(long);
    assert.ok(p.length <= PREVIEW_CHARS, `${p.length} chars`);
    assert.ok(p.endsWith('…'));
    assert.equal(firstLine('abcdef', 4), 'abc…');
  });

  test('no text: says why instead', () => {
    assert.equal(
      previewOf({ dir: 'in', id: '1', peer: 'p', sent_at: '', text: null, error: 'open_failed', unread: true }),
      'Could not be decrypted',
    );
    assert.match(previewOf({ dir: 'out', id: '2', peer: 'p', sent_at: '', text: null, status: 'sent' }), /not kept/);
    assert.equal(previewOf({ dir: 'out', id: '3', peer: 'p', sent_at: '', text: 'One\nTwo', status: 'sent' }), 'One');
  });
});
