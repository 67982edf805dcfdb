// A download of a large blob takes as long as the line needs: a deadline on the whole request would cut every file
// bigger than what fits in it. So the deadline covers the answer's headers, and after them it becomes an idle limit,
// moved on by every chunk of the body: a cloud that stops sending is noticed, a slow one is not punished.

export interface IdleDeadline {
  /** Give this to fetch; it aborts with `onTimeout()`'s error when the headers, or the next chunk, are too late. */
  readonly signal: AbortSignal;
  /** The body, passing its chunks on, each one moving the deadline; errors come out as the timeout's error. */
  watch(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  /** No more waiting (an answer that is not read further). */
  clear(): void;
}

export function idleDeadline(ms: number, onTimeout: () => Error, outer?: AbortSignal): IdleDeadline {
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(onTimeout()), ms);
    timer.unref?.();
  };
  arm();
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  const clear = () => {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  };
  // Whatever the fetch implementation errors the body with, the reader gets the reason the request was stopped.
  const why = (err: unknown) => (ctl.signal.aborted ? ctl.signal.reason : err);
  return {
    signal: ctl.signal,
    clear,
    watch(body) {
      const reader = body.getReader();
      return new ReadableStream<Uint8Array>({
        async pull(c) {
          let next: ReadableStreamReadResult<Uint8Array>;
          try {
            next = await reader.read();
          } catch (err) {
            clear();
            throw why(err);
          }
          if (next.done) {
            clear();
            c.close();
            return;
          }
          arm();
          c.enqueue(next.value);
        },
        async cancel(reason) {
          clear();
          await reader.cancel(reason);
        },
      });
    },
  };
}
