// What the outside world can do to an HTTP server that is not a request: send bytes that are not HTTP (bad
// framing, `Transfer-Encoding: identity`, a bad chunk), hang up mid-body, or connect while this process is out
// of file descriptors. None of it is this process's fault, so none of it is an error-level log line with a
// stack, and none of it may take the process down. Lines about it go through a LogBudget (a flood cannot fill
// the disk).
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LogBudget } from './log-budget.js';

const CLIENT_ABORT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The error a handler sees when it reads the body of a request whose client hung up or broke the framing. */
export function isClientAbort(err: unknown): boolean {
  for (let e = err as { code?: string; message?: string; cause?: unknown } | undefined, i = 0; e && i < 4; e = e.cause as typeof e, i++) {
    if (typeof e !== 'object') return false;
    if (e.code && CLIENT_ABORT_CODES.has(e.code)) return true;
    if (e.message === 'aborted') return true;
  }
  return false;
}

export const CLIENT_ABORT_BODY = {
  error: 'invalid_request',
  message: 'The request body could not be read (the client hung up or broke the framing).',
} as const;

const FD_PRESSURE = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/**
 * `clientError`: answer a 400 JSON where the socket can still take it, log once at debug. `error` (after
 * listening; e.g. accept() failing with EMFILE): log a rate-limited warning and keep running. libuv answers
 * EMFILE on accept by accepting and closing the pending connections with a reserved descriptor, so new
 * connections are refused while established ones keep being served, and the accept loop does not spin.
 */
export function guardServer(server: Server, budget: LogBudget): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    budget.write('client_error', 'debug', 'a client sent a request that is not valid HTTP, or hung up', { code: err.code ?? err.message });
    try {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const body = JSON.stringify({
        error: 'invalid_request',
        message: 'The request is not valid HTTP/1.1 (framing, headers or body encoding).',
      });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    } catch {
      socket.destroy();
    }
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    const pressure = err.code !== undefined && FD_PRESSURE.has(err.code);
    budget.write(
      pressure ? 'fd_pressure' : 'server_error',
      'warn',
      pressure
        ? 'out of file descriptors: refusing new connections, still serving open ones'
        : 'the HTTP server reported an error; still serving',
      { code: err.code ?? err.message },
    );
  });
}
