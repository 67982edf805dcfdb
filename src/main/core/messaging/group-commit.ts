// Group commit (the idea of NonceRepository.claimBatched, generalised): every unit of work queued in one turn
// of the event loop runs in ONE SQLite transaction, and each promise settles only after that commit. The
// caller gets the durability of a transaction per call for the price of one commit per turn.
//
// Each unit runs inside its own savepoint (better-sqlite3 nests transactions as savepoints), so a unit that
// throws is rolled back alone and fails alone; the others still commit. After the commit, each unit's
// `after` callback runs (pushes, notifications): never before the data is on disk.
import type Database from 'better-sqlite3';

export interface Unit<T> {
  /** Runs inside the batch's transaction; throw to roll this unit back. */
  work(): T;
  /** Runs after the commit, with work()'s result, before the promise resolves. Errors here are swallowed. */
  after?(result: T): void;
}

interface Queued {
  unit: Unit<unknown>;
  done(value: unknown): void;
  fail(err: unknown): void;
}

export class GroupCommit {
  private queue: Queued[] = [];

  constructor(private readonly sqlite: Database.Database, private readonly onAfterError?: (err: unknown) => void) {}

  run<T>(unit: Unit<T>): Promise<T> {
    return new Promise<T>((done, fail) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ unit: unit as Unit<unknown>, done: done as (v: unknown) => void, fail });
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    let results: ({ ok: true; value: unknown } | { ok: false; err: unknown })[];
    try {
      results = this.sqlite.transaction(() => batch.map((b) => {
        try {
          return { ok: true as const, value: this.sqlite.transaction(() => b.unit.work())() };
        } catch (err) {
          return { ok: false as const, err };
        }
      }))();
    } catch (err) {
      // The commit itself failed (disk full, database closed): nothing of this batch is stored.
      for (const b of batch) b.fail(err);
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i]!;
      if (!r.ok) {
        b.fail(r.err);
        return;
      }
      try {
        b.unit.after?.(r.value);
      } catch (err) {
        this.onAfterError?.(err);
      }
      b.done(r.value);
    });
  }
}
