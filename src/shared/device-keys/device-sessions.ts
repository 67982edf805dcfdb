// The device's end of forward-secret messaging, the glue a messaging client calls: it keeps this device's
// prekeys published, seals an envelope v2 with one ratchet wrap per recipient device (Sesame fan-out: the
// caller names the recipient's devices and our own other devices), and opens what arrives. Transport-agnostic:
// the caller passes the directory's calls in. Every step that advances a session commits the new state
// together with the message it produced or consumed (docs/e2ee.md "Session storage").
import { constantTimeEqual } from '../crypto/noise/primitives.js';
import { parseEnvelope } from '../e2ee/envelope.js';
import { openV2, sealV2 } from '../e2ee/envelope-v2.js';
import { E2eeError } from '../e2ee/errors.js';
import type { EnvelopeV2 } from '../e2ee/schema.js';
import { fromBase64Url } from '../encoding.js';
import type { IdentityKeyPair, ResponderKeys } from '../ratchet/pqxdh.js';
import { type OpenedOnSession, openOnSession, type SessionRecord, sealOnSession, startSession, withCurrent } from '../ratchet/session.js';
import type { PrekeyBundle, PrekeyStatus, PublishPrekeysRequest } from '../wire/prekeys.js';
import { DeviceKeysError } from './errors.js';
import {
  consumePrekeys,
  createOwnPrekeys,
  DEFAULT_PREKEY_POLICY,
  markPublished,
  needsPublish,
  type OwnPrekeysState,
  type PrekeyPolicy,
  publishRequest,
  replenishOwnPrekeys,
  responderKeys,
  rotateOwnPrekeys,
} from './own-prekeys.js';
import { sessionRecordFromJson, sessionRecordToJson } from './session-record-json.js';
import type { InboxMessage, OutboxEntry, SessionStore, StoreChange } from './session-store.js';

/** This device's prekey routes on its node (GET and PUT {messages}/prekeys). */
export interface PrekeyApi {
  status(): Promise<PrekeyStatus>;
  publish(req: PublishPrekeysRequest): Promise<PrekeyStatus>;
}

/** A device to seal to, as the caller's directory names it (identity_key: base64url X25519). */
export interface PeerDevice {
  device_id: string;
  identity_key: string;
}

/** Claims one prekey bundle for a device (POST {messages}/prekeys/:device_id/claim). */
export type ClaimBundle = (deviceId: string) => Promise<PrekeyBundle>;

export interface SealResult {
  envelope: EnvelopeV2;
  /** Devices whose session was started again under another identity key than before: "safety number changed". */
  identityChanged: string[];
}

export interface OpenResult {
  id: string;
  from_device: string;
  sent_at: string;
  plaintext: Uint8Array;
  /** true: this envelope was opened before; served from the store, no session touched. */
  duplicate: boolean;
  /** Set when this envelope started a new session with its sender. */
  started?: { initialMessageId: string; identityChanged: boolean };
}

export interface DeviceSessionsOptions {
  deviceId: string;
  identity: IdentityKeyPair;
  store: SessionStore;
  now?: () => number;
  policy?: Partial<PrekeyPolicy>;
}

/** Tries of one step when other tabs keep committing first. */
const MAX_STEP_ATTEMPTS = 8;

/** Publish rounds per ensurePrekeysPublished (each carries up to MAX_ONE_TIME_PER_PUBLISH keys of a kind). */
const MAX_PUBLISH_ROUNDS = 4;

const NO_KEYS = (identity: IdentityKeyPair): ResponderKeys => ({
  identity,
  signedPrekey: () => undefined,
  kemPrekey: () => undefined,
  oneTimePrekey: () => undefined,
});

export class DeviceSessions {
  readonly deviceId: string;
  private readonly identity: IdentityKeyPair;
  private readonly store: SessionStore;
  private readonly now: () => number;
  private readonly policy: PrekeyPolicy;
  /** Steps run one at a time: each reads state, computes and commits it, and two interleaved would fork it. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The store revision the running step read its state at; its commits are made only if it is still that. */
  private stepRevision: number | undefined;

  constructor(opts: DeviceSessionsOptions) {
    this.deviceId = opts.deviceId;
    this.identity = opts.identity;
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.policy = { ...DEFAULT_PREKEY_POLICY, ...opts.policy };
  }

  /**
   * Runs one step after the ones before it. Another tab of this device may share the store (no Web Locks on a
   * plain-http page): a step commits only on the revision it read, and starts again from a fresh read when that
   * tab committed first.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const step = async (): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        this.stepRevision = await this.store.revision();
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof DeviceKeysError && err.code === 'state_changed') || attempt >= MAX_STEP_ATTEMPTS) throw err;
        } finally {
          this.stepRevision = undefined;
        }
      }
    };
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private commit(change: StoreChange): Promise<void> {
    return this.store.commit(this.stepRevision === undefined ? change : { ...change, ifRevision: this.stepRevision });
  }

  private async record(peerDevice: string): Promise<SessionRecord | undefined> {
    const json = await this.store.loadRecord(peerDevice);
    return json === undefined ? undefined : sessionRecordFromJson(json);
  }

  /**
   * First publish, weekly rotation, replenish. New keys are stored before they are sent (a key the node hands
   * out must already be held here) and marked published only after the node took them; a failed publish is
   * retried with the same keys next time.
   */
  async ensurePrekeysPublished(api: PrekeyApi): Promise<PrekeyStatus> {
    let status = await api.status();
    for (let round = 0; round < MAX_PUBLISH_ROUNDS; round++) {
      const seen = status;
      const req = await this.exclusive(async () => {
        const held = await this.store.loadPrekeys();
        const now = this.now();
        let state: OwnPrekeysState = held ?? createOwnPrekeys(this.identity, now, this.policy);
        if (held)
          state = replenishOwnPrekeys(rotateOwnPrekeys(state, this.identity, now, this.policy), this.identity, seen, now, this.policy);
        if (state !== held) await this.commit({ prekeys: state });
        return needsPublish(state, seen) ? publishRequest(state) : undefined;
      });
      if (!req) return status;
      status = await api.publish(req);
      await this.exclusive(async () => {
        const held = await this.store.loadPrekeys();
        if (held) await this.commit({ prekeys: markPublished(held, req) });
      });
    }
    return status;
  }

  /**
   * Seals `plaintext` to every device in `toDevices` (our own id is skipped). A device with no session, or whose
   * directory identity key is not the one its session was made with, gets a new session from a claimed bundle.
   * The new session states and the envelope (outbox) are one commit.
   */
  seal(toDevices: readonly PeerDevice[], plaintext: Uint8Array, claim: ClaimBundle): Promise<SealResult> {
    return this.exclusive(async () => {
      const devices = toDevices.filter((d) => d.device_id !== this.deviceId);
      if (devices.length === 0) throw new DeviceKeysError('invalid_argument', 'no recipient device other than this one');
      const records = new Map<string, SessionRecord>();
      const identityChanged: string[] = [];
      for (const d of devices) {
        let expected: Uint8Array;
        try {
          expected = fromBase64Url(d.identity_key);
        } catch {
          throw new DeviceKeysError('invalid_argument', `identity key of ${d.device_id} is not base64url`);
        }
        const held = await this.record(d.device_id);
        if (held && constantTimeEqual(held.current.peerIdentityKey, expected)) {
          records.set(d.device_id, held);
          continue;
        }
        const bundle = await claim(d.device_id);
        if (bundle?.identity_key !== d.identity_key) {
          throw new DeviceKeysError('identity_mismatch', `the bundle claimed for ${d.device_id} is not under its directory identity key`);
        }
        records.set(d.device_id, withCurrent(held, startSession(this.identity, d.device_id, bundle)));
        if (held) identityChanged.push(d.device_id);
      }
      const envelope = sealV2(plaintext, {
        fromDevice: this.deviceId,
        to: [...records.keys()],
        now: this.now,
        sealWrap: (to, wrapPlaintext, ad) => {
          const rec = records.get(to)!;
          const r = sealOnSession(rec.current, wrapPlaintext, ad);
          records.set(to, { current: r.session, archived: rec.archived });
          return r.wrap;
        },
      });
      const entry: OutboxEntry = { id: envelope.id, envelope, created_at: this.now() };
      await this.commit({
        records: [...records].map(([peerDevice, record]) => ({ peerDevice, record: sessionRecordToJson(record) })),
        outbox: [entry],
      });
      return { envelope, identityChanged };
    });
  }

  /**
   * Opens an envelope v2 sent to this device. Already opened: returned from the store, nothing changes. Else the
   * session, the prekeys it used (one-time ones deleted) and the message are one commit; any refusal (PqxdhError,
   * RatchetError, E2eeError, DeviceKeysError) leaves everything as it was. `senderIdentityKey` is the key the
   * caller's directory names for the sender: the session the envelope opened on must be under it (identity_mismatch
   * otherwise), else anyone holding some identity key could start a session in another device's name.
   */
  open(input: unknown, senderIdentityKey: Uint8Array): Promise<OpenResult> {
    return this.exclusive(async () => {
      const env = parseEnvelope(input);
      if (env.v !== 2) throw new E2eeError('version_unsupported', `envelope ${env.id} is version ${env.v}, not 2`);
      const stored = await this.store.inboxMessage(env.id);
      if (stored) return { ...fromInbox(stored), duplicate: true };
      const held = await this.record(env.from_device);
      const prekeys = await this.store.loadPrekeys();
      const keys = prekeys ? responderKeys(prekeys, this.identity) : NO_KEYS(this.identity);
      let opened: OpenedOnSession | undefined;
      const { plaintext } = openV2(env, {
        me: this.deviceId,
        openWrap: (wrap, ad) => {
          opened = openOnSession(held, env.from_device, wrap, ad, keys);
          return opened.plaintext;
        },
      });
      const o = opened!;
      if (!constantTimeEqual(o.record.current.peerIdentityKey, senderIdentityKey)) {
        throw new DeviceKeysError(
          'identity_mismatch',
          `envelope ${env.id} is not under the identity key the directory names for ${env.from_device}`,
        );
      }
      const nextPrekeys = o.started && prekeys ? consumePrekeys(prekeys, o.started, this.policy) : undefined;
      const message: InboxMessage = { id: env.id, from_device: env.from_device, sent_at: env.sent_at, plaintext, received_at: this.now() };
      await this.commit({
        ...(nextPrekeys ? { prekeys: nextPrekeys } : {}),
        records: [{ peerDevice: env.from_device, record: sessionRecordToJson(o.record) }],
        inbox: [message],
      });
      return {
        ...fromInbox(message),
        duplicate: false,
        ...(o.started ? { started: { initialMessageId: o.started.initialMessageId, identityChanged: o.started.identityChanged } } : {}),
      };
    });
  }

  /** The node took these envelopes: they leave the outbox. */
  acknowledge(envelopeIds: readonly string[]): Promise<void> {
    return this.exclusive(() => this.commit({ outboxDone: [...envelopeIds] }));
  }

  /** Envelopes sealed but not yet acknowledged (to send again after a restart). */
  pendingOutbox(): Promise<OutboxEntry[]> {
    return this.store.outbox();
  }

  /** The identity key our current session with `peerDevice` was made with (for its safety number). */
  async peerIdentityKey(peerDevice: string): Promise<Uint8Array | undefined> {
    return (await this.record(peerDevice))?.current.peerIdentityKey;
  }
}

function fromInbox(m: InboxMessage): Omit<OpenResult, 'duplicate' | 'started'> {
  return { id: m.id, from_device: m.from_device, sent_at: m.sent_at, plaintext: m.plaintext };
}
