// Group commit for the relay (the pattern of NonceRepository.claimBatched in the node): the sends and acks
// that arrive in one turn of the event loop are written in one transaction, in arrival order, and each
// promise settles only after that commit. So `accepted` is as durable as with one commit per frame, but a
// burst of 300 frames pays for one fsync instead of 300.
import type { Envelope } from '../shared/e2ee/index.js';
import type { RelayRefusalCode } from '../shared/wire/relay.js';
import type { CloudSql } from './db/sql.js';
import type { AcceptResult, RelayStore } from './relay-store.js';

type Op =
  | { kind: 'send'; node: string; envelope: Envelope; body: string }
  | { kind: 'ack'; node: string; seq: number; refused?: { device_ids: string[]; error: RelayRefusalCode } | undefined };

interface Pending {
  op: Op;
  done: (r: AcceptResult | null) => void;
  fail: (err: unknown) => void;
}

/**
 * PostgreSQL errors after which the whole batch is simply run again: a deadlock between two instances' batches
 * (each locks its recipients' queues as it goes; the database aborts one of them), and a unique violation from
 * the same envelope id committed by another instance in the meantime (the retry finds it and answers `accepted`).
 */
const RETRY_CODES = new Set(['40P01', '40001', '23505']);
const MAX_ATTEMPTS = 5;
const retryable = (err: unknown) => RETRY_CODES.has((err as { code?: unknown } | null)?.code as string);

export class RelayWriter {
  private queue: Pending[] = [];
  /** A batch is being written: the next one waits (batches commit one after another, in arrival order). */
  private writing = false;

  /** `committed` hears, once per batch and after its commit, which nodes' queues got new rows. */
  constructor(
    private readonly sql: CloudSql,
    private readonly store: RelayStore,
    private readonly committed: (touched: Set<string>) => void,
  ) {}

  send(node: string, envelope: Envelope, body: string): Promise<AcceptResult> {
    return this.submit({ kind: 'send', node, envelope, body }) as Promise<AcceptResult>;
  }

  ack(node: string, seq: number, refused?: { device_ids: string[]; error: RelayRefusalCode }): Promise<void> {
    return this.submit({ kind: 'ack', node, seq, refused }).then(() => undefined);
  }

  private submit(op: Op): Promise<AcceptResult | null> {
    return new Promise((done, fail) => {
      if (this.queue.length === 0 && !this.writing) setImmediate(() => void this.flush());
      this.queue.push({ op, done, fail });
    });
  }

  /** One transaction around a whole batch: committed, then every promise settles; or rolled back and all fail. */
  private apply(batch: Pending[]): Promise<{ results: (AcceptResult | null)[]; touched: Set<string> }> {
    return this.sql.tx(async (tx) => {
      const touched = new Set<string>();
      const results: (AcceptResult | null)[] = [];
      for (const { op } of batch) {
        if (op.kind === 'ack') {
          for (const n of await this.store.ack(tx, op.node, op.seq, op.refused)) touched.add(n);
          results.push(null);
          continue;
        }
        const r = await this.store.accept(tx, op.node, op.envelope, op.body);
        if (r.ok) for (const n of r.touched) touched.add(n);
        results.push(r);
      }
      return { results, touched };
    });
  }

  private async flush(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue;
    this.queue = [];
    try {
      let out: { results: (AcceptResult | null)[]; touched: Set<string> } | undefined;
      for (let attempt = 1; !out; attempt++) {
        try {
          out = await this.apply(batch);
        } catch (err) {
          this.store.forgetCounts();
          if (attempt >= MAX_ATTEMPTS || !retryable(err)) {
            for (const b of batch) b.fail(err);
            return;
          }
        }
      }
      const { results, touched } = out;
      batch.forEach((b, i) => {
        b.done(results[i]!);
      });
      if (touched.size > 0) this.committed(touched);
    } finally {
      this.writing = false;
      // What arrived during this batch is the next one.
      if (this.queue.length > 0) setImmediate(() => void this.flush());
    }
  }
}
