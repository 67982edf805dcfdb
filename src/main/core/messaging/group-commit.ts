// Group commit (the idea of NonceRepository.claimBatched, generalised): every unit of work queued in one turn
// of the event loop runs in ONE SQLite transaction, and each promise settles only after that commit. The
// caller gets the durability of a transaction per call for the price of one commit per turn.
//
// GroupCommit.shared(sqlite) is the one instance per database handle: the nonce claims of signed requests, the
// outbox inserts of sends, the inbox inserts of deliveries and the status changes of one turn all share one
// commit (one fsync with synchronous = FULL) instead of one each.
//
// Each unit runs inside its own savepoint, so a unit that throws is rolled back alone and fails alone; the
// others still commit. A unit marked `single` (one statement: SQLite already undoes a failed statement alone)
// skips the savepoint. After the commit, each unit's `after` callback runs (pushes, notifications): never
// before the data is on disk. Units run, commit and settle in the order they were queued.
import type Database from 'better-sqlite3';

export interface Unit<T> {
  /** Runs inside the batch's transaction; throw to roll this unit back. */
  work(): T;
  /** Runs after the commit, with work()'s result, before the promise resolves. Errors here are swallowed. */
  after?(result: T): void;
  /** work() writes with at most one statement, so a failure leaves nothing to undo: no savepoint needed. */
  single?: boolean;
}

interface Queued {
  unit: Unit<unknown>;
  done(value: unknown): void;
  fail(err: unknown): void;
}

const sharedByDb = new WeakMap<Database.Database, GroupCommit>();

export class GroupCommit {
  private queue: Queued[] = [];
  private readonly afterErrorHandlers: ((err: unknown) => void)[] = [];
  private stmts: { savepoint: Database.Statement; release: Database.Statement; rollbackTo: Database.Statement } | undefined;

  /** The one group commit of this database handle (created on first use). */
  static shared(sqlite: Database.Database, onAfterError?: (err: unknown) => void): GroupCommit {
    let gc = sharedByDb.get(sqlite);
    if (!gc) {
      gc = new GroupCommit(sqlite);
      sharedByDb.set(sqlite, gc);
    }
    if (onAfterError) gc.afterErrorHandlers.push(onAfterError);
    return gc;
  }

  constructor(
    private readonly sqlite: Database.Database,
    onAfterError?: (err: unknown) => void,
  ) {
    if (onAfterError) this.afterErrorHandlers.push(onAfterError);
  }

  run<T>(unit: Unit<T>): Promise<T> {
    return new Promise<T>((done, fail) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ unit: unit as Unit<unknown>, done: done as (v: unknown) => void, fail });
    });
  }

  private savepoints(): NonNullable<GroupCommit['stmts']> {
    this.stmts ??= {
      savepoint: this.sqlite.prepare('SAVEPOINT group_commit_unit'),
      release: this.sqlite.prepare('RELEASE group_commit_unit'),
      rollbackTo: this.sqlite.prepare('ROLLBACK TO group_commit_unit'),
    };
    return this.stmts;
  }

  private runUnit(b: Queued): { ok: true; value: unknown } | { ok: false; err: unknown } {
    if (b.unit.single) {
      try {
        return { ok: true, value: b.unit.work() };
      } catch (err) {
        return { ok: false, err };
      }
    }
    const s = this.savepoints();
    s.savepoint.run();
    try {
      const value = b.unit.work();
      s.release.run();
      return { ok: true, value };
    } catch (err) {
      s.rollbackTo.run();
      s.release.run();
      return { ok: false, err };
    }
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    let results: ({ ok: true; value: unknown } | { ok: false; err: unknown })[];
    try {
      results = this.sqlite.transaction(() => batch.map((b) => this.runUnit(b)))();
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
        for (const h of this.afterErrorHandlers) h(err);
      }
      b.done(r.value);
    });
  }
}
