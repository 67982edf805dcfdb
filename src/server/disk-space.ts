// Disk room for stored files (the node's blobs, the cloud's): what is free for an unprivileged writer, and sizes
// in the words refusals use.
import { statfsSync } from 'node:fs';

/** Bytes free on the disk of `dir` for this process (blocks available to unprivileged users). */
export function diskFreeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Bytes as MiB with one decimal, for messages. */
export const mib = (n: number): number => Math.round((n / 1024 ** 2) * 10) / 10;
