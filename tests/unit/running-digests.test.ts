// The blob store's running digest: it may only ever stand for bytes that were hashed in order from 0, each write
// starting where the last ended; anything else drops it, so the store falls back to reading the file.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { RunningDigests } from '../../src/main/core/files/running-digests.js';

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** One write through the digests, as the store does it: begin, hash, then advance (ok) or drop (failed). */
function write(d: RunningDigests, id: string, offset: number, bytes: Uint8Array, ok = true): void {
  const h = d.begin(id, offset);
  h?.update(bytes);
  if (!h) return;
  if (ok) d.advance(id, offset + bytes.length, h);
  else d.drop(id);
}

describe('running blob digests', () => {
  const a = randomBytes(1000);
  const b = randomBytes(500);

  it('writes in order from 0 give the SHA-256 of the whole blob, once', () => {
    const d = new RunningDigests();
    write(d, 'x', 0, a);
    write(d, 'x', 1000, b);
    assert.equal(d.take('x', 1500), sha(a, b));
    assert.equal(d.take('x', 1500), undefined, 'taken: gone');
  });

  it('a size it does not cover gives nothing', () => {
    const d = new RunningDigests();
    write(d, 'x', 0, a);
    assert.equal(d.take('x', 1500), undefined);
  });

  it('a write that does not start where the digest ends drops it for good', () => {
    const d = new RunningDigests();
    write(d, 'x', 0, a);
    assert.equal(d.begin('x', 900), undefined);
    assert.equal(d.begin('x', 1000), undefined, 'dropped, not kept for a later match');
    assert.equal(d.take('x', 1000), undefined);
  });

  it('a failed write drops it; a copy fed by a write that never finished leaves the digest as it was', () => {
    const d = new RunningDigests();
    write(d, 'x', 0, a);
    write(d, 'x', 1000, randomBytes(500), false);
    assert.equal(d.begin('x', 1000), undefined);

    write(d, 'y', 0, a);
    d.begin('y', 1000)?.update(randomBytes(500)); // hashed, but neither advanced nor dropped (still running)
    write(d, 'y', 1000, b);
    assert.equal(d.take('y', 1500), sha(a, b));
  });

  it('a blob written again from 0 starts afresh', () => {
    const d = new RunningDigests();
    write(d, 'x', 0, randomBytes(700));
    write(d, 'x', 0, a);
    assert.equal(d.take('x', 1000), sha(a));
  });
});
