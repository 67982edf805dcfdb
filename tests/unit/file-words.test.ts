// What a file and its transfer say in words (the same on both pages): sizes, speed, time left, kinds, the
// progress line of each state, and why a file was refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TransferView } from '../../src/renderer/src/common/files/file-transfers.js';
import {
  bytesText,
  fileKindText,
  isRefusedFile,
  percentOf,
  progressLine,
  refusedFileText,
  shownState,
  timeLeftText,
  transferErrorText,
} from '../../src/renderer/src/common/files/file-words.js';

const view = (patch: Partial<TransferView>): TransferView => ({
  key: 'k',
  dir: 'up',
  peer: 'p',
  name: 'a.png',
  type: 'image/png',
  size: 1000,
  state: 'running',
  done: 0,
  total: 1000,
  ...patch,
});

describe('file words', () => {
  test('sizes, speeds, time left', () => {
    assert.equal(bytesText(0), '0 bytes');
    assert.equal(bytesText(1), '1 byte');
    assert.equal(bytesText(999), '999 bytes');
    assert.equal(bytesText(1500), '1.5 KB');
    assert.equal(bytesText(595_262), '595 KB');
    assert.equal(bytesText(4_100_000), '4.1 MB');
    assert.equal(bytesText(3e12), '3.0 TB');
    assert.equal(timeLeftText(0.2), '1 s left');
    assert.equal(timeLeftText(42), '42 s left');
    assert.equal(timeLeftText(150), '3 min left');
    assert.equal(timeLeftText(3900), '1 h 5 min left');
  });

  test('kinds', () => {
    assert.equal(fileKindText('image/png'), 'PNG image');
    assert.equal(fileKindText('image/svg+xml'), 'SVG image');
    assert.equal(fileKindText('video/mp4'), 'video (MP4)');
    assert.equal(fileKindText('application/pdf'), 'PDF document');
    assert.equal(fileKindText('application/octet-stream'), 'file');
    assert.equal(fileKindText('application/zip'), 'application/zip');
  });

  test('percent is whole and reaches 100 only when all is done', () => {
    assert.equal(percentOf(view({ done: 999 })), 99);
    assert.equal(percentOf(view({ done: 1000 })), 100);
    assert.equal(percentOf(view({ total: 0, done: 0 })), 0);
    assert.equal(percentOf(view({ total: 0, done: 0, state: 'done' })), 100);
  });

  test('the progress line: percent, speed, time left; waiting while the node is away', () => {
    assert.equal(progressLine(view({ done: 250, bytesPerSec: 2500, secondsLeft: 0.3 }), true), '25% · 2.5 KB/s · 1 s left');
    assert.equal(progressLine(view({ done: 250 }), true), '25%');
    assert.equal(shownState(view({}), false), 'waiting');
    assert.match(progressLine(view({ done: 500 }), false), /^50% · waiting to resume/);
    assert.match(progressLine(view({ state: 'waiting', done: 500 }), true), /^50% · waiting to resume/);
    assert.equal(progressLine(view({ state: 'done', done: 1000 }), true), '100% · sent');
    assert.equal(progressLine(view({ dir: 'down', state: 'done', done: 1000 }), true), '100% · downloaded and checked');
    assert.match(progressLine(view({ dir: 'down', state: 'arriving', done: 100 }), true), /on its way.*10%/);
  });

  test('refused files say why, and are told apart from other failures', () => {
    for (const code of ['file_chunk_invalid', 'file_truncated', 'file_too_long', 'file_digest_mismatch', 'invalid_file']) {
      assert.ok(isRefusedFile(code), code);
      assert.match(refusedFileText(code), /^This file was refused: .+\. Nothing of it is shown or saved\.$/);
      assert.doesNotMatch(refusedFileText(code), /_/, 'words, not a code');
    }
    assert.equal(isRefusedFile('network'), false);
    assert.equal(isRefusedFile(undefined), false);
    assert.match(transferErrorText('file_digest_mismatch'), /refused/);
    assert.equal(transferErrorText('quota_exceeded'), 'this device has too much waiting on the desktop already');
    assert.equal(transferErrorText('some_new_code'), 'some new code');
  });
});
