// Large files in memory tests without holding them: the bytes are made on the fly (a random MiB with its index in
// front), so a test can send and check a GiB while it holds a few MiB; and a process's memory as /proc says.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const MiB = 1024 * 1024;
const block = randomBytes(MiB);

/** Bytes [start, end) of the made-up file: MiB blocks, each the random block with its index in its first 8 bytes. */
export function bytesAt(start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  for (let at = start; at < end; ) {
    const i = Math.floor(at / MiB);
    const b = Buffer.from(block);
    b.writeBigUInt64BE(BigInt(i), 0);
    const from = at - i * MiB;
    const n = Math.min(MiB - from, end - at);
    b.copy(out, at - start, from, from + n);
    at += n;
  }
  return out;
}

/** Resident memory now and its peak (VmHWM) of process `pid`, in bytes (Linux). */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
