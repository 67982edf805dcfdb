// File messages are kept like text ones (name as text, the manifest beside it), received ones from openItem's
// `file`; only the newest file messages keep their thumbnails in storage (localStorage holds a few MB).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Conversations, MAX_KEPT_THUMBS } from '../../src/renderer/src/common/conversation.js';
import { previewOf } from '../../src/renderer/src/common/messages/message-preview.js';
import type { FileManifest } from '../../src/shared/e2ee/file-manifest.js';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
}

const manifest = (n: number): FileManifest => ({
  t: 'file',
  v: 1,
  blob: 'AAAAAAAAAAAAAAAAAAAAAA',
  name: `photo-${n}.png`,
  type: 'image/png',
  size: 10,
  chunk: 65536,
  key: 'A'.repeat(43),
  sha256: 'B'.repeat(43),
  thumb: { type: 'image/webp', w: 10, h: 10, data: 'QUFB' },
});

const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();

describe('file messages in the conversations', () => {
  test('sent and received file messages keep their manifest; previews say "File:"', () => {
    const c = new Conversations();
    c.addSent('s1', 'peer', 'photo-1.png', at(1), 'queued', manifest(1));
    c.addReceived({ ok: true, seq: 1, id: 'r1', from_device: 'peer', sent_at: at(2), text: 'photo-2.png', file: manifest(2) }, true);
    c.addReceived({ ok: false, seq: 2, id: 'r2', from_device: 'peer', sent_at: at(3), error: 'invalid_file' }, true);
    const [s1, r1, r2] = c.with('peer');
    assert.equal(s1?.file?.name, 'photo-1.png');
    assert.equal(r1?.file?.name, 'photo-2.png');
    assert.equal(r2?.file, undefined);
    assert.equal(previewOf(r1!), 'File: photo-2.png');
    assert.equal(previewOf(r2!), 'A file that was refused');
  });

  test(`storage keeps thumbnails of the newest ${MAX_KEPT_THUMBS} file messages only, the rest of each manifest always`, () => {
    const storage = new MemoryStorage();
    const c = new Conversations('k', storage as unknown as Storage);
    for (let i = 0; i < MAX_KEPT_THUMBS + 5; i++)
      c.addReceived(
        { ok: true, seq: i, id: `r${i}`, from_device: 'peer', sent_at: at(i), text: `photo-${i}.png`, file: manifest(i) },
        false,
      );
    c.save();
    const again = new Conversations('k', storage as unknown as Storage).with('peer');
    assert.equal(again.length, MAX_KEPT_THUMBS + 5);
    assert.equal(again.filter((m) => m.file?.thumb).length, MAX_KEPT_THUMBS);
    assert.ok(
      again.slice(0, 5).every((m) => m.file && !m.file.thumb && m.file.key),
      'the oldest lost only their thumbnails',
    );
    assert.ok(
      c.with('peer').every((m) => m.file?.thumb),
      'in memory they keep them',
    );
  });
});
