// The bus between cloud instances (docs/cloud-scale.md): a notification that something changed in the shared
// database — "node X has rows to deliver", "node X connected here (close your socket)". The database is the truth:
// a message the bus loses (an instance or the bus restarting) only delays, because every instance also delivers
// from the database on connect and on its own timers. One instance alone uses the in-process bus; several use
// NATS core (@nats-io/transport-node), which reconnects by itself and never blocks a publish.
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface CloudBus {
  readonly kind: 'none' | 'nats';
  /** Fire and forget: delivered to every subscriber of `subject`, here and on other instances, or lost. */
  publish(subject: string, data: string): void;
  /** Hears `subject`; returns the unsubscribe. */
  subscribe(subject: string, fn: (data: string) => void): () => void;
  /** The bus answers now (readiness): false while disconnected. */
  ready(): boolean;
  close(): Promise<void>;
}

/** One instance: the bus is a map of listeners. */
export class InProcessBus implements CloudBus {
  readonly kind = 'none' as const;
  private readonly listeners = new Map<string, Set<(data: string) => void>>();

  publish(subject: string, data: string): void {
    for (const fn of [...(this.listeners.get(subject) ?? [])]) {
      try {
        fn(data);
      } catch {
        /* one listener's failure is not the publisher's */
      }
    }
  }

  subscribe(subject: string, fn: (data: string) => void): () => void {
    const set = this.listeners.get(subject) ?? new Set();
    set.add(fn);
    this.listeners.set(subject, set);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(subject);
    };
  }

  ready(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

const text = new TextDecoder();

/** NATS core: reconnects forever (the instance keeps serving from the database meanwhile). */
export class NatsBus implements CloudBus {
  readonly kind = 'nats' as const;
  private up = true;

  private constructor(private readonly nc: NatsConnection) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.up = false;
        else if (s.type === 'reconnect') this.up = true;
      }
    })().catch(() => {});
  }

  static async connect(url: string, name: string): Promise<NatsBus> {
    const nc = await connect({
      servers: url,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    });
    return new NatsBus(nc);
  }

  publish(subject: string, data: string): void {
    try {
      this.nc.publish(subject, data);
    } catch {
      /* closed or draining: the database still has it */
    }
  }

  subscribe(subject: string, fn: (data: string) => void): () => void {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          fn(text.decode(msg.data));
        } catch {
          /* one listener's failure is not the bus's */
        }
      },
    });
    return () => sub.unsubscribe();
  }

  ready(): boolean {
    return this.up && !this.nc.isClosed();
  }

  /** Sends what is buffered, then closes. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
