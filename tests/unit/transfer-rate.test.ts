// A transfer's speed and time left come from its last few seconds, not from its start: a transfer that waited
// or resumed is not shown slow for ever, and progress that went back (a resume from the node's offset) starts over.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RATE_WINDOW_MS, RateMeter } from '../../src/renderer/src/common/files/transfer-rate.js';

describe('transfer rate', () => {
  test('nothing to say before a measurable span', () => {
    const m = new RateMeter();
    assert.deepEqual(m.push(0, 1000, 0), { bytesPerSec: undefined, secondsLeft: undefined });
    assert.equal(m.push(100, 1000, 100).bytesPerSec, undefined);
  });

  test('speed over the window, time left at that speed', () => {
    const m = new RateMeter();
    m.push(0, 10_000, 0);
    const r = m.push(1000, 10_000, 1000);
    assert.equal(r.bytesPerSec, 1000);
    assert.equal(r.secondsLeft, 9);
  });

  test('only the last window counts: a long wait at the start is forgotten', () => {
    const m = new RateMeter();
    m.push(0, 100_000, 0);
    m.push(0, 100_000, 60_000); // a minute of nothing (the node was away)
    for (let t = 61_000; t <= 60_000 + RATE_WINDOW_MS + 2000; t += 1000) m.push((t - 60_000) * 2, 100_000, t);
    const r = m.push(16_000, 100_000, 68_000);
    assert.ok(r.bytesPerSec !== undefined && Math.abs(r.bytesPerSec - 2000) < 1, `~2000 B/s, got ${r.bytesPerSec}`);
  });

  test('progress that goes back starts a new measure; reset forgets the speed', () => {
    const m = new RateMeter();
    m.push(0, 10_000, 0);
    m.push(5000, 10_000, 1000);
    assert.equal(m.push(3000, 10_000, 1500).bytesPerSec, undefined, 'went back: nothing measured yet');
    m.push(4000, 10_000, 2500);
    m.reset();
    assert.equal(m.push(4500, 10_000, 2600).bytesPerSec, undefined);
  });

  test('no movement: no time left', () => {
    const m = new RateMeter();
    m.push(10, 100, 0);
    assert.deepEqual(m.push(10, 100, 1000), { bytesPerSec: 0, secondsLeft: undefined });
  });
});
