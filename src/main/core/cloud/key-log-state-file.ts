// `<dataDir>/key-log.json` (written atomically): per cloud key, the last key-log head this node verified with the
// compact range it computed it from, and the alarm a failed check raised. On disk because a cloud could otherwise
// rewrite its history between two runs of the node; nothing in it is secret (heads are public, the range is
// hashes). A file that cannot be read starts over (kept aside as key-log.json.corrupt, and said in the log): the
// node then trusts the cloud's log from its next read, as on first contact.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { fromBase64Url, toBase64Url } from '../../../shared/encoding.js';
import { type CompactRange, isCompactRange } from '../../../shared/transparency/compact-range.js';
import type { KeyLogHead } from '../../../shared/transparency/key-log.js';
import { KeyLogAlarm } from '../../../shared/wire/relay.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const KEY_LOG_STATE_FILE = 'key-log.json';

export interface KeptLog {
  head: KeyLogHead;
  range: CompactRange;
  checkedAt: string;
}

const B64 = z.string().regex(/^[A-Za-z0-9_-]*$/);
const Kept = z
  .object({
    head: z.object({ size: z.number().int().nonnegative(), root: B64, signature: B64 }).strict(),
    range: z.array(B64).max(64),
    checked_at: z.string(),
  })
  .strict();
const FileSchema = z
  .object({
    version: z.literal(1),
    clouds: z.record(B64, z.object({ kept: Kept.nullable(), alarm: KeyLogAlarm.nullable() }).strict()),
  })
  .strict();

interface CloudEntry {
  kept: KeptLog | null;
  alarm: KeyLogAlarm | null;
}

export class KeyLogStateFile {
  readonly path: string;
  private readonly clouds = new Map<string, CloudEntry>();

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dataDir, KEY_LOG_STATE_FILE);
    this.load();
  }

  kept(cloudKey: string): KeptLog | null {
    return this.clouds.get(cloudKey)?.kept ?? null;
  }

  alarm(cloudKey: string): KeyLogAlarm | null {
    return this.clouds.get(cloudKey)?.alarm ?? null;
  }

  keep(cloudKey: string, kept: KeptLog): void {
    this.clouds.set(cloudKey, { kept, alarm: this.alarm(cloudKey) });
    this.save();
  }

  raise(cloudKey: string, alarm: KeyLogAlarm): void {
    this.clouds.set(cloudKey, { kept: this.kept(cloudKey), alarm });
    this.save();
  }

  /** The person chose to trust the cloud's log again: the kept head and the alarm go; the next read starts over. */
  forget(cloudKey: string): void {
    this.clouds.delete(cloudKey);
    this.save();
  }

  private load(): void {
    if (!existsSync(this.path)) return;
    try {
      const file = FileSchema.parse(JSON.parse(readFileSync(this.path, 'utf8')));
      for (const [key, c] of Object.entries(file.clouds)) {
        const kept = c.kept
          ? { head: c.kept.head, range: { size: c.kept.head.size, hashes: c.kept.range.map(fromBase64Url) }, checkedAt: c.kept.checked_at }
          : null;
        if (kept && !isCompactRange(kept.range)) throw new Error(`the kept range of cloud ${key} does not fit its size`);
        this.clouds.set(key, { kept, alarm: c.alarm });
      }
    } catch (err) {
      this.clouds.clear();
      renameSync(this.path, `${this.path}.corrupt`);
      this.log.error(
        { path: this.path, err: (err as Error).message },
        "the key log's kept heads could not be read: kept aside; the cloud's log is trusted again from its next read",
      );
    }
  }

  private save(): void {
    const clouds: z.infer<typeof FileSchema>['clouds'] = {};
    for (const [key, c] of this.clouds) {
      clouds[key] = {
        kept: c.kept ? { head: c.kept.head, range: c.kept.range.hashes.map(toBase64Url), checked_at: c.kept.checkedAt } : null,
        alarm: c.alarm,
      };
    }
    writeFileAtomic(this.path, `${JSON.stringify({ version: 1, clouds }, null, 2)}\n`, 0o600);
  }
}
