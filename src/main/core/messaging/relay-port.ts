// The seam between the node's message store (messaging/, outbox + inbox in SQLite) and its cloud link
// (cloud/, the WebSocket to the cloud's relay). The store knows nothing about the cloud; the link knows
// nothing about SQLite. node.ts connects the two.
import type { Envelope } from '../../../shared/e2ee/schema.js';
import type { DirectoryDevice, DirectoryEntry } from '../../../shared/wire/relay.js';

export interface OutboundEnvelope {
  /** Outbox position: the link sends in this order. */
  seq: number;
  id: string;
  /** The envelope as the device sent it (validated). */
  envelope: Envelope;
  /** The same envelope as JSON text, if the store has it: the link then sends this text as is. */
  json?: string;
}

/** What the cloud link needs from the message store. */
export interface MessageStorePort {
  /** Outbox rows with seq > afterSeq, oldest first. */
  pendingOutbound(afterSeq: number, limit: number): OutboundEnvelope[];
  outboxSize(): number;
  /** Called after something was queued (so the link can send it now). Returns an unsubscribe function. */
  onQueued(fn: () => void): () => void;
  /** The cloud stored it: leave the outbox; the sender's device sees status 'sent'. */
  accepted(id: string): void;
  /** The cloud refused it for good: leave the outbox; the sender's device sees 'failed' with the code. */
  rejected(id: string, code: string, message: string): void;
  /**
   * The recipients' node(s) stored it: the sender's device sees 'delivered'. Unknown ids are ignored. A promise
   * resolves once that is on disk (the link acks the receipt only then).
   */
  delivered(id: string, deviceIds: string[]): void | Promise<void>;
  /**
   * The recipients' node(s) refused to store it for `deviceIds` (`code`: recipient_backlog_full): the sender's
   * device sees 'failed' with the code. Resolves once that is on disk (the link acks the receipt only then).
   */
  refused?(id: string, deviceIds: string[], code: string): void | Promise<void>;
  /**
   * True if storeInbound() and delivered() apply in the order they are CALLED, even when a call comes before
   * the previous one settled (the real store queues them into one ordered group commit). The link then hands
   * over every frame at once, so the deliveries of one turn share a commit; otherwise it waits for each.
   */
  readonly inboundInCallOrder?: boolean;
  /**
   * Stores an envelope from the cloud in the inbox of each local recipient (idempotent by envelope id), then
   * pushes it to their open WebSockets. Resolves only once it is on disk: the link acks the cloud after that.
   * `refused`: local recipients it was not stored for (their inbox is at its cap); the link acks with a refusal,
   * and the cloud tells the sender 'failed' with recipient_backlog_full.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a store with nothing to refuse may be an async function that returns nothing (the test stores are); callers narrow with `r &&`
  storeInbound(envelope: Envelope): Promise<void | { refused: string[] }>;
  /**
   * Whether the device's key is known here (a local device or one in the cloud's directory as last fetched).
   * The link fetches the directory before storing an envelope from an unknown sender, so the recipient can
   * open it (the cloud accepts only senders it has published, so a fresh fetch has the key).
   */
  knowsDevice?(deviceId: string): boolean;
  /** The devices this node publishes to the cloud's key directory (public keys only). */
  localDevices(): DirectoryDevice[];
  onLocalDevicesChanged(fn: () => void): () => void;
  /** The cloud's directory as last fetched; the messaging directory shows these as 'remote'. */
  setRemoteDirectory(entries: RemoteEntry[]): void;
}

/** A device of the cloud's directory, with the older ids it replaced when re-paired (when the cloud says so). */
export type RemoteEntry = DirectoryEntry & { replaces?: string[] };
