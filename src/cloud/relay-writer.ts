// Group commit for the relay (the pattern of NonceRepository.claimBatched in the node): the sends and acks
// that arrive in one turn of the event loop are written in one transaction, in arrival order, and each
// promise settles only after that commit. So `accepted` is as durable as with one commit per frame, but a
// burst of 300 frames pays for one fsync instead of 300.
import type { Envelope } from '../shared/e2ee/index.js';
import type { RelayRefusalCode } from '../shared/wire/relay.js';
import { type CloudDb, sqliteOf } from './db/open.js';
import type { AcceptResult, RelayStore } from './relay-store.js';

type Op =
  | { kind: 'send'; node: string; envelope: Envelope; body: string }
  | { kind: 'ack'; node: string; seq: number; refused?: { device_ids: string[]; error: RelayRefusalCode } | undefined };

interface Pending {
  op: Op;
  done: (r: AcceptResult | null) => void;
  fail: (err: unknown) => void;
}

export class RelayWriter {
  private queue: Pending[] = [];
  /** One BEGIN (deferred) … COMMIT around a whole batch; rolls back and rethrows if anything in it throws. */
  private readonly apply: (batch: Pending[], touched: Set<string>) => (AcceptResult | null)[];

  /** `committed` hears, once per batch and after its commit, which nodes' queues got new rows. */
  constructor(
    db: CloudDb,
    private readonly store: RelayStore,
    private readonly committed: (touched: Set<string>) => void,
  ) {
    this.apply = sqliteOf(db).transaction((batch: Pending[], touched: Set<string>) =>
      batch.map(({ op }) => {
        if (op.kind === 'ack') {
          for (const n of this.store.ack(op.node, op.seq, op.refused)) touched.add(n);
          return null;
        }
        const r = this.store.accept(op.node, op.envelope, op.body);
        if (r.ok) for (const n of r.touched) touched.add(n);
        return r;
      }),
    );
  }

  send(node: string, envelope: Envelope, body: string): Promise<AcceptResult> {
    return this.submit({ kind: 'send', node, envelope, body }) as Promise<AcceptResult>;
  }

  ack(node: string, seq: number, refused?: { device_ids: string[]; error: RelayRefusalCode }): Promise<void> {
    return this.submit({ kind: 'ack', node, seq, refused }).then(() => undefined);
  }

  private submit(op: Op): Promise<AcceptResult | null> {
    return new Promise((done, fail) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ op, done, fail });
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    const touched = new Set<string>();
    let results: (AcceptResult | null)[];
    try {
      results = this.apply(batch, touched);
    } catch (err) {
      this.store.forgetCounts();
      for (const b of batch) b.fail(err);
      return;
    }
    batch.forEach((b, i) => {
      b.done(results[i]!);
    });
    if (touched.size > 0) this.committed(touched);
  }
}
