// A blob download is limited by silence, not by its length: the deadline covers the headers, then each gap between
// chunks. The clock is node:test's mock, so nothing here depends on how fast the machine is.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { idleDeadline } from '../../src/main/core/cloud/idle-deadline.js';

class Late extends Error {}

/** A body whose chunks the test hands out one by one. */
function handBody() {
  let c!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(x) {
      c = x;
    },
  });
  return { body, give: (n: number) => c.enqueue(new Uint8Array(n)), end: () => c.close() };
}

describe('idle deadline', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('a body far longer than the deadline goes through while every gap is shorter', async () => {
    const d = idleDeadline(1000, () => new Late());
    const src = handBody();
    const reader = d.watch(src.body).getReader();
    let n = 0;
    for (let i = 0; i < 20; i++) {
      mock.timers.tick(900);
      src.give(10);
      n += (await reader.read()).value!.length;
    }
    src.end();
    assert.equal((await reader.read()).done, true);
    mock.timers.tick(5000);
    assert.equal(d.signal.aborted, false, '18 s in all, never 1 s of silence');
    assert.equal(n, 200);
  });

  it('headers later than the deadline abort; clear() stops the clock; an outer abort passes through', () => {
    const late = idleDeadline(1000, () => new Late());
    mock.timers.tick(999);
    assert.equal(late.signal.aborted, false);
    mock.timers.tick(1);
    assert.ok(late.signal.reason instanceof Late);

    const cleared = idleDeadline(1000, () => new Late());
    cleared.clear();
    mock.timers.tick(10_000);
    assert.equal(cleared.signal.aborted, false);

    const outer = new AbortController();
    const chained = idleDeadline(1000, () => new Late(), outer.signal);
    outer.abort(new Error('stopping'));
    assert.equal((chained.signal.reason as Error).message, 'stopping');
  });

  it('a silence as long as the deadline aborts, and the body fails with the error the deadline names', async () => {
    const d = idleDeadline(1000, () => new Late());
    let c!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(x) {
        c = x;
      },
    });
    // What undici does when the signal fires: the body errors with some abort error of its own.
    d.signal.addEventListener('abort', () => c.error(new DOMException('This operation was aborted', 'AbortError')));
    const reader = d.watch(body).getReader();
    c.enqueue(new Uint8Array(1));
    await reader.read();
    const next = reader.read();
    mock.timers.tick(999);
    assert.equal(d.signal.aborted, false);
    mock.timers.tick(1);
    assert.ok(d.signal.reason instanceof Late);
    await assert.rejects(next, Late);
  });
});
