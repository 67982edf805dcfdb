// A sent file as its manifest and back: what FileUpload gave plus the name, type and thumbnail, checked by the
// manifest's schema; names and types a browser offers are made to fit it rather than refused at sealing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SentFile } from '../../src/shared/client/file-client.js';
import { downloadKeys, fileManifest, fileNameOf, fileTypeOf } from '../../src/shared/client/file-message.js';
import { FileManifest, MAX_FILE_NAME_CHARS } from '../../src/shared/e2ee/file-manifest.js';

const sent: SentFile = {
  blobId: 'AAAAAAAAAAAAAAAAAAAAAA',
  contentKey: new Uint8Array(32).fill(1),
  sha256: new Uint8Array(32).fill(2),
  size: 1234,
  chunk: 64 * 1024,
};

describe('file message', () => {
  test('manifest and back: the same blob, key, digest, size and chunk', () => {
    const m = fileManifest(sent, { name: 'beach.png', type: 'image/png', thumb: { type: 'image/webp', w: 160, h: 120, data: 'AAAA' } });
    assert.ok(FileManifest.safeParse(m).success);
    assert.equal(m.name, 'beach.png');
    assert.equal(m.type, 'image/png');
    assert.equal(m.thumb?.w, 160);
    const k = downloadKeys(m);
    assert.equal(k.blobId, sent.blobId);
    assert.deepEqual(k.contentKey, sent.contentKey);
    assert.deepEqual(k.sha256, sent.sha256);
    assert.equal(k.size, 1234);
    assert.equal(k.chunk, 64 * 1024);
  });

  test('names: no path, no control characters, at most 255 characters with the extension kept', () => {
    assert.equal(fileNameOf('a/b\\c.txt'), 'a_b_c.txt');
    assert.equal(fileNameOf('tab\there\n.txt'), 'tab_here_.txt');
    assert.equal(fileNameOf(''), 'file');
    assert.equal(fileNameOf('..'), 'file');
    const long = fileNameOf(`${'x'.repeat(400)}.jpeg`);
    assert.equal(long.length, MAX_FILE_NAME_CHARS);
    assert.ok(long.endsWith('.jpeg'));
    assert.ok(FileManifest.safeParse(fileManifest(sent, { name: `${'é'.repeat(300)}/.png` })).success);
  });

  test('types: a bare MIME type, else application/octet-stream', () => {
    assert.equal(fileTypeOf('image/PNG'), 'image/png');
    assert.equal(fileTypeOf('text/plain;charset=utf-8'), 'text/plain');
    assert.equal(fileTypeOf(''), 'application/octet-stream');
    assert.equal(fileTypeOf(undefined), 'application/octet-stream');
    assert.equal(fileTypeOf('not a type'), 'application/octet-stream');
  });
});
