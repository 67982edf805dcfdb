// "(3) Salita: Study PC": the unread prefix is added, replaced and removed without touching the rest.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withUnreadPrefix } from '../../src/renderer/src/common/messages/unread-title.js';

describe('unread title', () => {
  test('prefix added, replaced, removed', () => {
    assert.equal(withUnreadPrefix('Salita: Study PC', 3), '(3) Salita: Study PC');
    assert.equal(withUnreadPrefix('(3) Salita: Study PC', 12), '(12) Salita: Study PC');
    assert.equal(withUnreadPrefix('(12) Salita: Study PC', 0), 'Salita: Study PC');
    assert.equal(withUnreadPrefix('Salita: (2) PCs', 0), 'Salita: (2) PCs', 'only a leading count is ours');
  });
});
