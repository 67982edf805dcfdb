// Sends the outbox to the cloud's relay in seq order with at most `window` envelopes in flight, and applies the
// cloud's answers: `accepted` (the row leaves the outbox), `rejected` (it fails), and `rejected
// sender_not_published` (our key had not reached the directory yet: publish and resend after a growing delay).
// Hot path: rows are read a window at a time into `ahead`, a read that came back short marks the outbox dry
// until something is queued (wake()), and a row the store has as JSON text goes out as that text.
import type { Logger } from 'pino';
import type { CloudToNodeFrame } from '../../../shared/wire/relay.js';
import type { MessageStorePort, OutboundEnvelope } from '../messaging/relay-port.js';
import { backoffCeiling } from './backoff.js';
import type { CloudLinkOptions } from './cloud-link-options.js';
import type { CloudLinkReport } from './cloud-link-report.js';
import type { RelayConnection } from './relay-connection.js';

type Rejected = Extract<CloudToNodeFrame, { type: 'rejected' }>;

export interface CloudOutboxPumpDeps {
  store?: MessageStorePort | undefined;
  log: Logger;
  options: Pick<CloudLinkOptions, 'window' | 'retryBackoff' | 'maxNotPublishedResends'>;
  /** The connection to send on, or null while sends must wait (not connected, or our keys are being published). */
  sendable(): RelayConnection | null;
  /** Why the cloud refused to publish our device `deviceId`, if it did. */
  refusalOf(deviceId: string): { error: string; message: string } | undefined;
  /** Publish our keys again (and send when that ends). */
  republish(): void;
  /** The key directory may be stale: fetch it soon. */
  refreshDirectorySoon(): void;
  report: CloudLinkReport;
}

export class CloudOutboxPump {
  /** Outbox seq of the last envelope sent on this connection; in-flight ids -> their seq. */
  private sentUpTo = 0;
  private readonly inflight = new Map<string, number>();
  /**
   * Outbox rows read ahead (seq > sentUpTo, in order) and not sent yet, so that an `accepted` does not cost an
   * outbox query; `ahead[aheadAt]` is the next to send. `outboxDry`: the last read found nothing after them, and
   * nothing was queued since, so there is nothing to read.
   */
  private ahead: OutboundEnvelope[] = [];
  private aheadAt = 0;
  private outboxDry = false;
  /**
   * Envelope id -> how often the cloud refused it as sender_not_published (each refusal is answered by a
   * publish and a resend after a growing delay, up to maxNotPublishedResends). resendFrom: the lowest outbox
   * seq waiting for that resend.
   */
  private readonly notPublishedRounds = new Map<string, number>();
  private resendTimer: NodeJS.Timeout | undefined;
  private resendFrom = Infinity;

  constructor(private readonly d: CloudOutboxPumpDeps) {}

  /** A new connection: everything not yet accepted goes again from the start (the cloud is idempotent by id). */
  restart(): void {
    this.inflight.clear();
    this.sentUpTo = 0;
    this.forgetReadAhead();
  }

  /** The connection went: nothing is in flight any more, and a pending resend is moot (restart() resends). */
  halt(): void {
    clearTimeout(this.resendTimer);
    this.resendTimer = undefined;
    this.resendFrom = Infinity;
    this.inflight.clear();
  }

  /** Something was queued: read the outbox again, and send. */
  wake(): void {
    this.outboxDry = false;
    this.pump();
  }

  /**
   * Sends outbox rows in order, keeping at most `window` in flight (none while our keys are being published).
   * Rows are read a window's worth at a time and kept in `ahead` until sent; an empty read marks the outbox dry
   * until something is queued, so answers from the cloud cost no query when there is nothing new.
   */
  pump(): void {
    const store = this.d.store;
    const c = this.d.sendable();
    if (!store || !c) return;
    try {
      while (this.inflight.size < this.d.options.window) {
        if (this.aheadAt >= this.ahead.length) {
          if (this.outboxDry) return;
          const limit = this.d.options.window;
          this.ahead = store.pendingOutbound(this.sentUpTo, limit);
          this.aheadAt = 0;
          if (this.ahead.length < limit) this.outboxDry = true;
          if (this.ahead.length === 0) return;
        }
        const r = this.ahead[this.aheadAt]!;
        const sent =
          r.json !== undefined ? c.sendText(`{"type":"send","envelope":${r.json}}`) : c.send({ type: 'send', envelope: r.envelope });
        if (!sent) return;
        this.aheadAt++;
        this.inflight.set(r.id, r.seq);
        this.sentUpTo = r.seq;
      }
    } catch (err) {
      this.d.log.error({ err: (err as Error).message }, 'could not read the outbox');
    }
  }

  /** The cloud stored envelope `id`. */
  accepted(id: string): void {
    this.inflight.delete(id);
    this.guard('accepted', () => this.d.store?.accepted(id));
    this.pump();
    this.d.report.changed();
  }

  /** The cloud refused envelope `f.id`: it fails, unless it is a sender_not_published worth a resend. */
  rejected(f: Rejected): void {
    const seq = this.inflight.get(f.id);
    this.inflight.delete(f.id);
    let message = f.message;
    if (f.error === 'sender_not_published' && seq !== undefined) {
      const from = this.localSenderOf(seq, f.id);
      if (from !== undefined) {
        const verdict = this.senderNotPublished(f.id, seq, from);
        if (verdict === 'resend') return;
        message = verdict;
      }
    }
    this.notPublishedRounds.delete(f.id);
    this.d.log.warn({ id: f.id, error: f.error, message }, 'the cloud rejected an envelope');
    this.guard('rejected', () => this.d.store?.rejected(f.id, f.error, message));
    // The recipient may have been published since the last fetch: look again soon.
    if (f.error === 'unknown_recipient') this.d.refreshDirectorySoon();
    this.pump();
    this.d.report.changed();
  }

  /** The sender of outbox row `seq` (envelope `id`) if it is a device this node publishes: one row read, not the outbox. */
  private localSenderOf(seq: number, id: string): string | undefined {
    const store = this.d.store;
    const [row] = store?.pendingOutbound(seq - 1, 1) ?? [];
    if (row?.id !== id) return undefined;
    const from = row.envelope.from_device;
    return store!.localDevices().some((d) => d.device_id === from) ? from : undefined;
  }

  /**
   * The cloud refused envelope `id` (outbox row `seq`, from our device `from`) as sender_not_published.
   * Usually our own key had not reached the directory yet: publish again and resend, after a delay that grows
   * with each refusal of the same envelope (the cloud keeps one copy per id, so resending the rest is harmless).
   * Answers 'resend', or the words the envelope fails with: its sender was refused by the cloud, or it was
   * refused too often. Never an immediate resend, so a cloud that keeps refusing costs a few rounds, not a loop.
   */
  private senderNotPublished(id: string, seq: number, from: string): 'resend' | string {
    const refusal = this.d.refusalOf(from);
    if (refusal) return `${refusal.message} The cloud refused to publish this sender (${refusal.error}).`;
    const rounds = (this.notPublishedRounds.get(id) ?? 0) + 1;
    if (rounds > this.d.options.maxNotPublishedResends) {
      this.notPublishedRounds.delete(id);
      return `the cloud still does not list the sender as published after ${rounds - 1} publishes and resends`;
    }
    if (this.notPublishedRounds.size >= 10_000) this.notPublishedRounds.clear(); // ids of envelopes accepted since
    this.notPublishedRounds.set(id, rounds);
    this.resendFrom = Math.min(this.resendFrom, seq);
    if (this.resendTimer) return 'resend';
    const delay = backoffCeiling(this.d.options.retryBackoff, rounds - 1);
    this.d.log.info({ id, round: rounds, delay_ms: delay }, 'the cloud had not seen the sender published yet; publishing and resending');
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      const from = this.resendFrom;
      this.resendFrom = Infinity;
      this.sentUpTo = Math.min(this.sentUpTo, from - 1);
      this.forgetReadAhead();
      this.d.republish();
    }, delay);
    this.resendTimer.unref();
    return 'resend';
  }

  private forgetReadAhead(): void {
    this.ahead = [];
    this.aheadAt = 0;
    this.outboxDry = false;
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.d.log.error({ err: (err as Error).message }, `message store failed on ${what}`);
    }
  }
}
