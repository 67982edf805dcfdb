// Deliveries and receipts from the cloud's relay, handed to the message store strictly in arrival order (one
// promise chain, also across reconnects) and acked each only after the store has it on disk. A delivery from a
// sender the store does not know waits for a directory fetch first (so the recipient can open it), and every
// later frame waits behind that same gate, so the order holds.
import type { Logger } from 'pino';
import type { CloudToNodeFrame, RelayRefusalCode } from '../../../shared/wire/relay.js';
import type { MessageStorePort } from '../messaging/relay-port.js';
import type { RelayConnection } from './relay-connection.js';

type Deliver = Extract<CloudToNodeFrame, { type: 'deliver' }>;
type Receipt = Extract<CloudToNodeFrame, { type: 'receipt' }>;
/** What an ack says the node did not store, and why (see RelayAckFrame). */
type Refusal = { device_ids: string[]; error: RelayRefusalCode };

export interface CloudInboundOrderDeps {
  store?: MessageStorePort | undefined;
  log: Logger;
  /** The connection acks go on; a frame from an older connection is not acked (the cloud sends it again). */
  current(): RelayConnection | null;
  /** Fetches the key directory until it lists `deviceId` (or gives up). Never rejects. */
  learnSender(deviceId: string): Promise<void>;
}

export class CloudInboundOrder {
  /** Deliveries and receipts, handled strictly one after another in arrival order (across reconnects). */
  private chain: Promise<void> = Promise.resolve();
  /** Deliveries wait behind this while the directory is fetched for an unknown sender (see deliver()). */
  private gate: Promise<void> = Promise.resolve();

  constructor(private readonly d: CloudInboundOrderDeps) {}

  /** Every frame handed over so far has been handled. */
  settled(): Promise<void> {
    return this.chain.catch(() => {});
  }

  deliver(c: RelayConnection, f: Deliver): void {
    const store = this.d.store;
    // A sender this node has not seen in the directory yet (just paired at another home, or this node just
    // restarted): fetch the directory first, or the recipient could not open the envelope. Later deliveries
    // wait behind the same gate, so they still reach the store in arrival order.
    const sender = f.envelope.from_device;
    if (store?.knowsDevice && !store.knowsDevice(sender)) {
      this.gate = this.gate.then(() => this.d.learnSender(sender));
    }
    const gate = this.gate;
    this.inOrder(c, f.seq, async () => {
      await gate;
      const r = store ? await store.storeInbound(f.envelope) : undefined;
      // Acked either way (the cloud's queue must drain), but with the refusal the sender learns it failed.
      return r && r.refused.length > 0 ? { device_ids: r.refused, error: 'recipient_backlog_full' } : undefined;
    });
  }

  receipt(c: RelayConnection, f: Receipt): void {
    const store = this.d.store;
    // Behind the same gate as deliveries, so the store sees every frame in arrival order.
    const gate = this.gate;
    this.inOrder(c, f.seq, async () => {
      await gate;
      if (f.error) await store?.refused?.(f.id, f.device_ids, f.error);
      else await store?.delivered(f.id, f.device_ids);
      return undefined; // a receipt is acked without a refusal
    });
  }

  /** A delivery or receipt that can never become valid: acked in its turn, or it would stall the cloud's queue. */
  malformed(c: RelayConnection, seq: number): void {
    this.inOrder(c, seq, async () => undefined);
  }

  /**
   * Runs `work` after every earlier delivery, then acks `seq` on the connection it came from (if still up).
   * With a store that applies calls in call order (inboundInCallOrder), `work` starts at once instead of after
   * the previous one settled, so the deliveries of one turn share one commit; the acks still go out in arrival
   * order, each only after its own work is done.
   */
  private inOrder(c: RelayConnection, seq: number, work: () => Promise<Refusal | undefined>): void {
    const settle = async (done: Promise<Refusal | undefined>): Promise<void> => {
      let refused: Refusal | undefined;
      try {
        refused = await done;
      } catch (err) {
        // Not acked: the cloud delivers it again (after a reconnect at the latest).
        this.d.log.error({ seq, err: (err as Error).message }, 'could not store a delivery from the cloud; it will come again');
        return;
      }
      if (c === this.d.current()) c.send(refused ? { type: 'ack', seq, refused } : { type: 'ack', seq });
    };
    if (this.d.store?.inboundInCallOrder) {
      let started: Promise<Refusal | undefined>;
      try {
        started = work();
      } catch (err) {
        started = Promise.reject(err);
      }
      started.catch(() => {}); // settled (and logged) in the chain
      this.chain = this.chain.then(() => settle(started));
      return;
    }
    this.chain = this.chain.then(() => settle(work()));
  }
}
