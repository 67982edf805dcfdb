// One structured logger for the whole core (pino): JSON lines on stderr, level from SALITA_LOG_LEVEL.
// Children carry a `mod` field so a line says which part of the node wrote it.
import pino, { type Logger } from 'pino';

export type { Logger };

const root = pino(
  {
    level: process.env.SALITA_LOG_LEVEL ?? 'info',
    base: { app: 'salita' },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination(2),
);

export function createLogger(mod: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ mod, ...bindings });
}
