// One pino JSON line as a person reads it in a terminal: "17:02:27 INFO  mdns: published  port=6969".
// Written here because pino-pretty is not a dependency; a line that is not pino's JSON passes through as is.

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, or that the line's head already shows. */
const SHOWN_IN_HEAD = new Set(['level', 'time', 'msg', 'mod', 'app', 'pid', 'hostname', 'err']);

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

function clockTime(time: unknown): string {
  const d = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  return Number.isNaN(d.getTime()) ? '--:--:--' : d.toTimeString().slice(0, 8);
}

export function prettyLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = LEVEL_NAMES[entry.level as number] ?? String(entry.level ?? '');
  const mod = typeof entry.mod === 'string' ? `${entry.mod}: ` : '';
  const fields = Object.entries(entry)
    .filter(([k]) => !SHOWN_IN_HEAD.has(k))
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined;
  const errText = err ? `\n    ${String(err.stack ?? err.message ?? JSON.stringify(err)).replace(/\n/g, '\n    ')}` : '';
  return `${clockTime(entry.time)} ${level.padEnd(5)} ${mod}${String(entry.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}${errText}\n`;
}
