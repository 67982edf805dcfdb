// The device's end of forward-secret messaging, the glue a messaging client calls: it keeps this device's
// prekeys published, seals an envelope v2 with one ratchet wrap per recipient device (Sesame fan-out: the
// caller names the recipient's devices and our own other devices), and opens what arrives. Transport-agnostic:
// the caller passes the directory's calls in. Every step that advances a session commits the new state
// together with the message it produced or consumed (docs/e2ee.md "Session storage").
import { constantTimeEqual } from '../crypto/noise/primitives.js';
import { parseEnvelope } from '../e2ee/envelope.js';
import { openV2, sealV2 } from '../e2ee/envelope-v2.js';
import { E2eeError } from '../e2ee/errors.js';
import type { EnvelopeV2, EnvelopeV3 } from '../e2ee/schema.js';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding.js';
import { GroupError } from '../groups/errors.js';
import {
  acceptSenderKey,
  applyGroupChange,
  changeGroup,
  createGroup,
  type GroupMember,
  type GroupOutbound,
  type GroupPayload,
  type GroupState,
  groupDecrypt,
  groupEncrypt,
  MAX_GROUP_DEVICES,
} from '../groups/group.js';
import { envelopeSized, groupEnvelopes, groupMessageOf } from '../groups/group-envelope.js';
import { PersonError } from '../people/errors.js';
import {
  applyRoster,
  checkRoster,
  inRoster,
  newPerson,
  nextRoster,
  type PersonDevice,
  type PersonPayload,
  type PersonRecord,
  type PersonRoster,
  peopleToDrop,
  secretMatches,
} from '../people/person.js';
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
import type { GroupRecord, InboxMessage, OutboxEntry, SessionStore, StoreChange } from './session-store.js';

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
  /** A group message (envelope v3): the group it was sent in. */
  group_id?: string;
  /** Set when this envelope started a new session with its sender. */
  started?: { initialMessageId: string; identityChanged: boolean };
}

/** What a step on linked devices made: the envelopes to send (sealed on the pairwise sessions). */
export interface PersonStep {
  person_id: string;
  envelopes: EnvelopeV2[];
}

/** A person as the apps show it: the record without the person key's secret. */
export type PersonView = Omit<PersonRecord, 'secret'> & { own: boolean };

/** What a group step made: the envelopes to send (the pairwise ones it sealed), and whether we were removed. */
export interface GroupStep {
  group_id: string;
  envelopes: EnvelopeV2[];
  removed: boolean;
}

const asMember = (d: PeerDevice): GroupMember => ({ device_id: d.device_id, identity_key: d.identity_key });

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
      const step = new SealStep();
      const envelope = await this.sealInto(step, toDevices, plaintext, claim);
      await this.commit({ records: step.recordsJson(), outbox: [outboxEntry(envelope, this.now())] });
      return { envelope, identityChanged: step.identityChanged };
    });
  }

  /**
   * One envelope v2 on the sessions of `toDevices`, advancing the records of `step` (loaded from the store the
   * first time a device is met in the step): several envelopes of one step share them, committed together.
   */
  private async sealInto(step: SealStep, toDevices: readonly PeerDevice[], plaintext: Uint8Array, claim: ClaimBundle): Promise<EnvelopeV2> {
    const devices = toDevices.filter((d) => d.device_id !== this.deviceId);
    if (devices.length === 0) throw new DeviceKeysError('invalid_argument', 'no recipient device other than this one');
    for (const d of devices) {
      let expected: Uint8Array;
      try {
        expected = fromBase64Url(d.identity_key);
      } catch {
        throw new DeviceKeysError('invalid_argument', `identity key of ${d.device_id} is not base64url`);
      }
      const held = step.records.get(d.device_id) ?? (await this.record(d.device_id));
      if (held && constantTimeEqual(held.current.peerIdentityKey, expected)) {
        step.records.set(d.device_id, held);
        continue;
      }
      const bundle = await claim(d.device_id);
      if (bundle?.identity_key !== d.identity_key) {
        throw new DeviceKeysError('identity_mismatch', `the bundle claimed for ${d.device_id} is not under its directory identity key`);
      }
      step.records.set(d.device_id, withCurrent(held, startSession(this.identity, d.device_id, bundle)));
      if (held) step.identityChanged.push(d.device_id);
    }
    return sealV2(plaintext, {
      fromDevice: this.deviceId,
      to: [...new Set(devices.map((d) => d.device_id))],
      now: this.now,
      sealWrap: (to, wrapPlaintext, ad) => {
        const rec = step.records.get(to)!;
        const r = sealOnSession(rec.current, wrapPlaintext, ad);
        step.records.set(to, { current: r.session, archived: rec.archived });
        return r.wrap;
      },
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
      if (env.v === 1) throw new E2eeError('version_unsupported', `envelope ${env.id} is version 1: it is opened with static keys`);
      const stored = await this.store.inboxMessage(env.id);
      if (stored) return { ...fromInbox(stored), duplicate: true };
      if (env.v === 3) return this.openGroupMessage(env);
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

  // ---- groups (Sender Keys, src/shared/groups): changes and sender keys ride the pairwise sessions ----------

  /** A group message (envelope v3) on its sender's chain; the group state and the message are one commit. */
  private async openGroupMessage(env: EnvelopeV3): Promise<OpenResult> {
    if (!env.to.includes(this.deviceId)) throw new E2eeError('not_a_recipient', `device ${this.deviceId} is not a recipient of ${env.id}`);
    const rec = await this.store.loadGroup(env.group.group_id);
    if (!rec?.state) throw new GroupError('group_unknown_sender', `no group ${env.group.group_id} here (not a member, or not told yet)`);
    const r = groupDecrypt(rec.state, groupMessageOf(env));
    const message: InboxMessage = {
      id: env.id,
      from_device: env.from_device,
      sent_at: env.sent_at,
      plaintext: r.plaintext,
      received_at: this.now(),
      group_id: env.group.group_id,
    };
    await this.commit({ groups: [{ record: { ...rec, state: r.state } }], inbox: [message] });
    return { ...fromInbox(message), duplicate: false };
  }

  /**
   * Makes a group of this device and `members` (their directory entries); the change and our sender key go to
   * each on its session, in the returned envelope (to be sent), committed with the group.
   */
  createGroup(name: string, members: readonly PeerDevice[], claim: ClaimBundle): Promise<GroupStep> {
    return this.exclusive(async () => {
      const made = createGroup({ me: this.deviceId, identity: this.identity, name, members: members.map(asMember) });
      return this.commitGroupStep({ group_id: made.state.group_id, state: made.state, early: [] }, [made.outbound], claim);
    });
  }

  /** Renames the group and/or sets its members (a removal rotates everyone's sender key). */
  changeGroup(groupId: string, next: { name?: string; members: readonly PeerDevice[] }, claim: ClaimBundle): Promise<GroupStep> {
    return this.exclusive(async () => {
      const rec = await this.store.loadGroup(groupId);
      if (!rec?.state) throw new GroupError('group_not_member', `this device is not a member of ${groupId}`);
      const self = { device_id: this.deviceId, identity_key: toBase64Url(this.identity.publicKey) };
      const members = [self, ...next.members.filter((m) => m.device_id !== this.deviceId).map(asMember)];
      const r = changeGroup(rec.state, this.identity, { ...(next.name !== undefined ? { name: next.name } : {}), members });
      // The members it removes are told too: their keys are in the list before the change.
      return this.commitGroupStep({ ...rec, state: r.state }, r.outbound, claim, rec.state.members);
    });
  }

  /**
   * What came on the session with `from` for a group: a change to apply (again: ignored) and/or its sender key.
   * Applying a change makes our new sender key, returned sealed for the other members.
   */
  applyGroupPayload(from: string, fromIdentityKey: Uint8Array, payload: GroupPayload, claim: ClaimBundle): Promise<GroupStep> {
    return this.exclusive(async () => {
      const groupId = payload?.change?.group_id ?? payload?.sender_key?.group_id;
      if (typeof groupId !== 'string') throw new GroupError('group_bad_message', 'a group payload names no group');
      let rec: GroupRecord = (await this.store.loadGroup(groupId)) ?? { group_id: groupId, early: [] };
      const outbound: GroupOutbound[] = [];
      const seenEpoch = rec.state?.epoch ?? rec.left_epoch;
      if (payload.change && !(seenEpoch !== undefined && payload.change.epoch <= seenEpoch)) {
        const applied = applyGroupChange(rec.state, payload.change, {
          me: this.deviceId,
          from,
          fromIdentityKey: toBase64Url(fromIdentityKey),
          early: rec.early,
        });
        if (applied.removed) {
          // Our chains and the members' go; what is kept is the epoch we left at.
          await this.commit({ groups: [{ record: { group_id: groupId, early: [], left_epoch: payload.change.epoch } }] });
          return { group_id: groupId, envelopes: [], removed: true };
        }
        rec = { group_id: groupId, state: applied.state, early: [] };
        outbound.push(applied.outbound);
      }
      const key = payload.sender_key;
      // A key of an epoch already behind us (re-delivered, or overtaken by the next change) has nothing to open.
      if (key && rec.state && key.epoch >= rec.state.epoch) rec = { ...rec, state: acceptSenderKey(rec.state, key, from) };
      else if (key && !rec.state && key.sender_device === from) rec = { ...rec, early: [...rec.early, key].slice(-MAX_GROUP_DEVICES) };
      return this.commitGroupStep(rec, outbound, claim);
    });
  }

  /** Seals `plaintext` for the group: its envelopes v3 (to send), committed with the chain's new state. */
  sendGroup(groupId: string, plaintext: Uint8Array): Promise<EnvelopeV3[]> {
    return this.exclusive(async () => {
      const rec = await this.store.loadGroup(groupId);
      if (!rec?.state) throw new GroupError('group_not_member', `this device is not a member of ${groupId}`);
      const r = groupEncrypt(rec.state, plaintext);
      const envelopes = groupEnvelopes(r.message, r.toDevices, this.now);
      await this.commit({ groups: [{ record: { ...rec, state: r.state } }], outbox: envelopes.map((e) => outboxEntry(e, this.now())) });
      return envelopes;
    });
  }

  /** The groups this device is a member of. */
  async groups(): Promise<GroupState[]> {
    return (await this.store.allGroups()).flatMap((g) => (g.state ? [g.state] : []));
  }

  /**
   * Seals each outbound payload on the sessions of its devices (their keys from the group's member list, or
   * `formerMembers` for those a change removes), in envelopes of at most MAX_RECIPIENTS devices, and commits them
   * with the group record.
   */
  private async commitGroupStep(
    rec: GroupRecord,
    outbound: readonly GroupOutbound[],
    claim: ClaimBundle,
    formerMembers: readonly GroupMember[] = [],
  ): Promise<GroupStep> {
    const step = new SealStep();
    const keyOf = new Map<string, string>();
    for (const m of [...(rec.state?.members ?? []), ...formerMembers]) if (!keyOf.has(m.device_id)) keyOf.set(m.device_id, m.identity_key);
    const envelopes: EnvelopeV2[] = [];
    for (const o of outbound) {
      const to = o.toDevices.flatMap((id) => (keyOf.has(id) ? [{ device_id: id, identity_key: keyOf.get(id)! }] : []));
      const bytes = utf8.encode(JSON.stringify(o.payload));
      for (const part of envelopeSized(to)) envelopes.push(await this.sealInto(step, part, bytes, claim));
    }
    await this.commit({
      groups: [{ record: rec }],
      records: step.recordsJson(),
      outbox: envelopes.map((e) => outboxEntry(e, this.now(), true)),
    });
    return { group_id: rec.group_id, envelopes, removed: false };
  }

  // ---- linked devices (src/shared/people): offers, answers and rosters ride the pairwise sessions ---------

  /** Every person this device knows of: its own (own: true), offers to it, and its contacts' rosters. */
  async people(): Promise<PersonView[]> {
    return (await this.store.allPeople()).map(({ secret, ...rest }) => ({ ...rest, own: secret !== undefined }));
  }

  /** Our own person's roster (undefined until this device links another, or is linked). */
  async ownRoster(): Promise<PersonRoster | undefined> {
    return (await this.ownPerson())?.roster;
  }

  private async ownPerson(): Promise<PersonRecord | undefined> {
    return (await this.store.allPeople()).find((p) => p.secret !== undefined);
  }

  private selfDevice(): PersonDevice {
    return { device_id: this.deviceId, identity_key: toBase64Url(this.identity.publicKey) };
  }

  /**
   * Offers `to` to link with this device as one person named `name` (made now if this device has none yet; a
   * name given renames it). Nothing changes for `to` until it accepts.
   */
  offerLink(to: PeerDevice, name: string, claim: ClaimBundle): Promise<PersonStep> {
    return this.exclusive(async () => {
      if (to.device_id === this.deviceId) throw new PersonError('person_invalid_argument', 'a device cannot link with itself');
      let own = await this.ownPerson();
      if (!own) {
        const made = newPerson(this.selfDevice(), name);
        own = { person_id: made.roster.person_id, roster: made.roster, secret: made.secret };
      } else if (own.roster.name !== name.trim()) {
        own = { ...own, roster: nextRoster(own.roster, own.secret!, { name }) };
      }
      if (inRoster(own.roster, to.device_id)) throw new PersonError('person_invalid_argument', `${to.device_id} is linked already`);
      own = { ...own, offered_to: [...new Set([...(own.offered_to ?? []), to.device_id])] };
      return this.commitPersonStep([own], [{ to: [to], payload: { t: 'person', op: 'offer', roster: own.roster } }], claim);
    });
  }

  /** Accepts (join) or declines the offer to link that came from a device of `personId`. */
  answerOffer(personId: string, accept: boolean, claim: ClaimBundle): Promise<PersonStep> {
    return this.exclusive(async () => {
      const all = await this.store.allPeople();
      const rec = all.find((p) => p.person_id === personId);
      if (!rec?.offer_from) throw new PersonError('person_no_offer', `no offer to link from ${personId} is waiting`);
      const from = rec.roster.devices.find((d) => d.device_id === rec.offer_from);
      if (!from) throw new PersonError('person_no_offer', 'the device that offered is no longer in its roster');
      const own = all.find((p) => p.secret !== undefined);
      if (accept && own && own.roster.devices.length > 1)
        throw new PersonError('person_already_linked', 'this device is linked with other devices already: unlink it first');
      const next: PersonRecord = accept ? { ...rec, accepted: true } : withoutOffer(rec);
      const op = accept ? ('join' as const) : ('decline' as const);
      return this.commitPersonStep([next], [{ to: [from], payload: { t: 'person', op, person_id: personId } }], claim);
    });
  }

  /**
   * Takes `deviceId` out of our person (our own id: this device leaves it). Every device of the roster before
   * is told, the removed one too.
   */
  unlink(deviceId: string, claim: ClaimBundle): Promise<PersonStep> {
    return this.exclusive(async () => {
      const own = await this.ownPerson();
      if (!own || !inRoster(own.roster, deviceId) || own.roster.devices.length < 2)
        throw new PersonError('person_not_linked', `this device is not linked with ${deviceId}`);
      const roster = nextRoster(own.roster, own.secret!, { devices: own.roster.devices.filter((d) => d.device_id !== deviceId) });
      const leaving = deviceId === this.deviceId;
      const { secret: _gone, offered_to: _none, ...asContact } = { ...own, roster };
      const record: PersonRecord = leaving ? asContact : { ...own, roster };
      const to = own.roster.devices.filter((d) => d.device_id !== this.deviceId);
      return this.commitPersonStep([record], [{ to, payload: { t: 'person', op: 'roster', roster } }], claim);
    });
  }

  /** A roster that came with a message from `from` (a contact's devices, or ours): kept when it is newer. */
  acceptRoster(from: string, roster: unknown): Promise<boolean> {
    return this.exclusive(async () => {
      const id = (roster as PersonRoster | null)?.person_id;
      const held = (await this.store.allPeople()).find((p) => p.person_id === id);
      const next = applyRoster(held, roster, { me: this.deviceId, from });
      if (!next) return false;
      await this.commitPeople([next]);
      return true;
    });
  }

  /** What came on the session with `from` about linking: applied here, what we answer returned sealed. */
  applyPersonPayload(from: string, fromIdentityKey: Uint8Array, payload: PersonPayload, claim: ClaimBundle): Promise<PersonStep> {
    return this.exclusive(async () => {
      const all = await this.store.allPeople();
      const own = all.find((p) => p.secret !== undefined);
      const fromKey = toBase64Url(fromIdentityKey);
      const find = (id: unknown) => all.find((p) => p.person_id === id);
      switch (payload.op) {
        case 'offer': {
          const roster = checkRoster(payload.roster);
          if (!roster.devices.some((d) => d.device_id === from && d.identity_key === fromKey))
            throw new PersonError('person_not_member', 'an offer to link must come from a device of that person');
          const held = find(roster.person_id);
          if (held?.secret) return { person_id: roster.person_id, envelopes: [] }; // linked already
          const base = held ? (applyRoster(held, roster, { me: this.deviceId, from }) ?? held) : { person_id: roster.person_id, roster };
          return this.commitPersonStep([{ ...base, offer_from: from, accepted: false }], [], claim);
        }
        case 'join': {
          if (!own || own.person_id !== payload.person_id || !own.offered_to?.includes(from))
            throw new PersonError('person_no_offer', `${from} was not offered to link with this device`);
          const devices = [...own.roster.devices.filter((d) => d.device_id !== from), { device_id: from, identity_key: fromKey }];
          const roster = nextRoster(own.roster, own.secret!, { devices });
          const next: PersonRecord = { ...own, roster, offered_to: own.offered_to.filter((d) => d !== from) };
          const others = own.roster.devices.filter((d) => d.device_id !== this.deviceId);
          return this.commitPersonStep(
            [next],
            [
              {
                to: [{ device_id: from, identity_key: fromKey }],
                payload: { t: 'person', op: 'keys', roster, person_secret: own.secret! },
              },
              ...(others.length ? [{ to: others, payload: { t: 'person' as const, op: 'roster' as const, roster } }] : []),
            ],
            claim,
          );
        }
        case 'decline': {
          if (!own || own.person_id !== payload.person_id) return { person_id: String(payload.person_id), envelopes: [] };
          return this.commitPersonStep([{ ...own, offered_to: (own.offered_to ?? []).filter((d) => d !== from) }], [], claim);
        }
        case 'keys': {
          const roster = checkRoster(payload.roster);
          const rec = find(roster.person_id);
          if (!rec?.accepted || rec.offer_from !== from)
            throw new PersonError('person_no_offer', `this device did not accept to link with ${roster.person_id}`);
          if (!inRoster(roster, this.deviceId)) throw new PersonError('person_bad_roster', 'the roster that links us does not list us');
          if (!secretMatches(roster, payload.person_secret))
            throw new PersonError('person_bad_roster', "the person key sent is not the roster's");
          // Linked with others since it accepted (its own offer was taken meanwhile): it stays where it is.
          if (own && own.person_id !== roster.person_id && own.roster.devices.length > 1)
            throw new PersonError('person_already_linked', 'this device was linked with other devices meanwhile');
          const linked: PersonRecord = { person_id: roster.person_id, roster, secret: String(payload.person_secret) };
          // A person of this device alone (made by an offer of its own) gives way to the one it joined.
          const lone = own && own.person_id !== roster.person_id ? [{ record: own, removed: true }] : [];
          await this.commitPeople([linked], { people: lone });
          return { person_id: roster.person_id, envelopes: [] };
        }
        case 'roster': {
          const held = find((payload.roster as PersonRoster | null)?.person_id);
          const next = applyRoster(held, payload.roster, { me: this.deviceId, from });
          return this.commitPersonStep(next ? [next] : [], [], claim, (next ?? held)?.person_id);
        }
        default:
          throw new PersonError('person_invalid_argument', 'not a linking payload');
      }
    });
  }

  /** Seals each payload on the sessions of its devices and commits it with the person records. */
  private async commitPersonStep(
    records: readonly PersonRecord[],
    outbound: readonly { to: readonly PeerDevice[]; payload: PersonPayload }[],
    claim: ClaimBundle,
    personId = records[0]?.person_id ?? '',
  ): Promise<PersonStep> {
    const step = new SealStep();
    const envelopes: EnvelopeV2[] = [];
    for (const o of outbound) {
      const to = o.to.filter((d) => d.device_id !== this.deviceId);
      if (to.length) envelopes.push(await this.sealInto(step, to, utf8.encode(JSON.stringify(o.payload)), claim));
    }
    if (records.length || envelopes.length)
      await this.commitPeople(records, { records: step.recordsJson(), outbox: envelopes.map((e) => outboxEntry(e, this.now(), true)) });
    return { person_id: personId, envelopes };
  }

  /** Writes person records (stamped now) with `also`, dropping what the bounds say must go (peopleToDrop). */
  private async commitPeople(records: readonly PersonRecord[], also: StoreChange = {}): Promise<void> {
    const now = this.now();
    const next = records.map((r) => ({ ...r, seen_at: now }));
    const dropped = peopleToDrop(await this.store.allPeople(), next).map((record) => ({ record, removed: true }));
    await this.commit({ ...also, people: [...(also.people ?? []), ...dropped, ...next.map((record) => ({ record }))] });
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
  return {
    id: m.id,
    from_device: m.from_device,
    sent_at: m.sent_at,
    plaintext: m.plaintext,
    ...(m.group_id ? { group_id: m.group_id } : {}),
  };
}

/** The session records one step advances, and the devices whose session it started again under a new key. */
class SealStep {
  readonly records = new Map<string, SessionRecord>();
  readonly identityChanged: string[] = [];

  recordsJson(): { peerDevice: string; record: ReturnType<typeof sessionRecordToJson> }[] {
    return [...this.records].map(([peerDevice, record]) => ({ peerDevice, record: sessionRecordToJson(record) }));
  }
}

function withoutOffer(rec: PersonRecord): PersonRecord {
  const { offer_from: _from, accepted: _accepted, ...rest } = rec;
  return rest;
}

function outboxEntry(envelope: EnvelopeV2 | EnvelopeV3, now: number, control = false): OutboxEntry {
  return { id: envelope.id, envelope, created_at: now, ...(control ? { control: true as const } : {}) };
}
