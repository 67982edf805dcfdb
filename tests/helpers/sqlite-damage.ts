// Ways a SQLite file gets damaged on disk, shared by the node's and the cloud's startup-check tests.
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';

export const SQLITE_DAMAGES: Record<string, (file: string) => void> = {
  'a 0-byte file': (f) => writeFileSync(f, ''),
  'a truncated file': (f) => truncateSync(f, Math.floor(statSync(f).size / 2)),
  'garbage bytes': (f) => writeFileSync(f, Buffer.alloc(8192, 0x5a)),
  'a page-corrupted file': (f) => {
    // Page 2 onwards hold the tables; overwrite the middle of a few of them (not the header page).
    const buf = readFileSync(f);
    const page = buf.readUInt16BE(16) || 65536;
    for (let p = 1; p * page < buf.length; p++) buf.fill(0xff, p * page + 8, p * page + 64);
    writeFileSync(f, buf);
  },
};
