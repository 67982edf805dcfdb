// The cloud's one seam to its database (docs/cloud-scale.md): SQL text with `?` placeholders, asynchronous, the
// same for the embedded SQLite file and for PostgreSQL shared by several instances. Written once in the portable
// subset both speak (ON CONFLICT, RETURNING, COALESCE, text ISO times, integer booleans); where they differ the
// dialect says so. A transaction runs `fn` on one connection; `lock(key)` serializes transactions that touch the
// same thing (a recipient's queue, a log's tail): PostgreSQL takes a transaction-scoped advisory lock, SQLite
// needs none (one connection, one transaction at a time).
import type Database from 'better-sqlite3';
import type pg from 'pg';

export type SqlValue = string | number | bigint | boolean | null | Uint8Array;

export interface SqlTx {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
  /** Holds `key` until this transaction ends: another transaction that locks it waits. */
  lock(key: string): Promise<void>;
}

/** What reads and writes: the database itself, or one transaction of it (a service method takes either). */
export type SqlQuery = Pick<SqlTx, 'all' | 'get' | 'run'>;

/** `?, ?, ?` for an IN list of `n` values (n > 0). */
export const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

export interface CloudSql extends Omit<SqlTx, 'lock'> {
  readonly dialect: 'sqlite' | 'postgres';
  /** `fn` in one transaction: committed when it resolves, rolled back when it rejects (its error rethrown). */
  tx<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** `?` placeholders as PostgreSQL's `$1, $2, …`, leaving quoted text and identifiers alone. */
export function numberedPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      out += `$${++n}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Booleans are integers 0/1 on both (one SQL text for both stores). */
const toRows = (params: readonly SqlValue[]) => params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));

/**
 * SQLite through better-sqlite3 (synchronous underneath). One connection: a transaction holds it, so every other
 * call waits for the transaction to end (it would otherwise run inside it and see what is not committed).
 */
export class SqliteSql implements CloudSql {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  /** Transactions run one after the other (FIFO); `queued` counts the running and waiting ones. */
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(private readonly db: Database.Database) {}

  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private readonly direct: SqlTx = {
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => {
      const s = this.statement(sql);
      if (s.reader) return s.all(...toRows(params)) as T[];
      s.run(...toRows(params));
      return [];
    },
    get: async <T>(sql: string, params: readonly SqlValue[] = []) => {
      const s = this.statement(sql);
      if (s.reader) return s.get(...toRows(params)) as T | undefined;
      s.run(...toRows(params));
      return undefined;
    },
    run: async (sql: string, params: readonly SqlValue[] = []) => ({ changes: this.statement(sql).run(...toRows(params)).changes }),
    lock: async () => {},
  };

  /** Resolves when no transaction runs or waits (calls outside a transaction must not run inside one). */
  private async idle(): Promise<void> {
    while (this.queued > 0) await this.chain;
  }

  async all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    await this.idle();
    return this.direct.all<T>(sql, params);
  }

  async get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    await this.idle();
    return this.direct.get<T>(sql, params);
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    await this.idle();
    return this.direct.run(sql, params);
  }

  /** `fn` must use its `tx` argument, not this object (that would wait for the transaction it runs in). */
  async tx<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const before = this.chain;
    let release!: () => void;
    this.chain = new Promise<void>((r) => {
      release = r;
    });
    this.queued++;
    try {
      await before;
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const r = await fn(this.direct);
        this.db.exec('COMMIT');
        return r;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.queued--;
      release();
    }
  }

  async close(): Promise<void> {
    await this.idle();
    this.db.close();
  }
}

/** PostgreSQL through a pg pool: each call takes a connection; a transaction keeps one until it ends. */
export class PostgresSql implements CloudSql {
  readonly dialect = 'postgres' as const;

  constructor(private readonly pool: pg.Pool) {}

  private static on(q: pg.Pool | pg.PoolClient): SqlTx {
    return {
      all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
        (await q.query(numberedPlaceholders(sql), toRows(params))).rows as T[],
      get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
        (await q.query(numberedPlaceholders(sql), toRows(params))).rows[0] as T | undefined,
      run: async (sql: string, params: readonly SqlValue[] = []) => ({
        changes: (await q.query(numberedPlaceholders(sql), toRows(params))).rowCount ?? 0,
      }),
      // hashtextextended: a 64-bit key from any text; held until COMMIT or ROLLBACK.
      lock: async (key: string) => {
        await q.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
      },
    };
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return PostgresSql.on(this.pool).all<T>(sql, params);
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return PostgresSql.on(this.pool).get<T>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return PostgresSql.on(this.pool).run(sql, params);
  }

  async tx<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const r = await fn(PostgresSql.on(client));
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
