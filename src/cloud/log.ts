// The cloud's structured logger (pino, as the node's): JSON lines on stdout, level from SALITA_CLOUD_LOG_LEVEL
// (default info; the node's SALITA_LOG_LEVEL is not read: the cloud is another server, often in the same shell,
// and at info it prints the one-time login codes its default sender delivers). Errors go in as `{ err }` so pino's err serializer keeps their stack and code, not only
// the message. Tests that want the lines pass `lines`: each line's msg is handed to it instead of stdout.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createCloudLogger(opts: { lines?: (msg: string) => void; level?: string } = {}): Logger {
  const options = {
    // A test that asked for the lines wants all of them, whatever the shell's level.
    level: opts.level ?? (opts.lines ? 'info' : (process.env.SALITA_CLOUD_LOG_LEVEL ?? 'info')),
    base: { app: 'salita-cloud' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const lines = opts.lines;
  if (!lines) return pino(options, pino.destination(1));
  // A stream is whatever has write(): every pino line is one JSON object, its msg is what the test reads.
  return pino(options, {
    write(line: string) {
      const entry = JSON.parse(line) as { msg?: string; err?: { stack?: string } };
      lines(`${entry.msg ?? ''}${entry.err?.stack ? `: ${entry.err.stack}` : ''}`);
    },
  });
}
