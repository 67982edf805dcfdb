// One structured logger for the whole core (pino), on stderr so stdout stays for what a person reads (the
// headless node's QR, PIN and links). Two formats: `pretty` (default: one short line per event, for a terminal)
// and `json` (pino's JSON lines, for machines and log collectors): SALITA_LOG_FORMAT or setLogFormat() before
// the node starts (headless: --log-format). Level from SALITA_LOG_LEVEL. Children carry a `mod` field so a
// line says which part of the node wrote it.
import pino, { type Logger } from 'pino';
import { prettyLogLine } from './log-pretty.js';

export type { Logger };

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogFormat(v: unknown): v is LogFormat {
  return (LOG_FORMATS as readonly unknown[]).includes(v);
}

let format: LogFormat = isLogFormat(process.env.SALITA_LOG_FORMAT) ? process.env.SALITA_LOG_FORMAT : 'pretty';

/** Takes effect for every line written after it (the stream reads it per line), loggers made before included. */
export function setLogFormat(f: LogFormat): void {
  format = f;
}

// stderr writes are synchronous for files, terminals and pipes on Linux and macOS: no line is lost at exit.
const stream = {
  write(line: string): void {
    process.stderr.write(format === 'json' ? line : prettyLogLine(line));
  },
};

const root = pino(
  {
    level: process.env.SALITA_LOG_LEVEL ?? 'info',
    base: { app: 'salita' },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  stream,
);

export function createLogger(mod: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ mod, ...bindings });
}
