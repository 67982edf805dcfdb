// Where a device keeps its prekeys, its sessions and the messages they carried (docs/e2ee.md "Session storage").
// The rule: a ratchet step and its message are one commit. `commit` writes the new prekey state, the new session
// records and the opened (inbox) or sealed (outbox) messages in one transaction: if it fails nothing changed (the
// envelope can be opened again later), if it committed the message is saved with the state it advanced to.
import type { EnvelopeV2, EnvelopeV3 } from '../e2ee/schema.js';
import type { GroupState } from '../groups/group.js';
import type { SenderKeyDistribution } from '../groups/sender-key.js';
import type { PersonRecord } from '../people/person.js';
import { DeviceKeysError } from './errors.js';
import type { OwnPrekeysState } from './own-prekeys.js';
import type { SessionRecordJson } from './session-record-json.js';

/** A message opened on this device, stored by envelope id: a re-delivered envelope is served from here. */
export interface InboxMessage {
  id: string;
  from_device: string;
  sent_at: string;
  plaintext: Uint8Array;
  received_at: number;
  /** Set for a group message: the group it was sent in. */
  group_id?: string;
}

/** What this device holds of one group: its state once it is a member, sender keys that came before that. */
export interface GroupRecord {
  group_id: string;
  state?: GroupState;
  early: SenderKeyDistribution[];
  /** We were removed by the change to this epoch: a change up to it, seen again, does not add us back. */
  left_epoch?: number;
}

/** An envelope sealed by this device and not yet acknowledged by its node (resend it after a crash). */
export interface OutboxEntry {
  id: string;
  envelope: EnvelopeV2 | EnvelopeV3;
  created_at: number;
  /** A group's or a link's own traffic (a change, a sender key, an offer): nothing a person wrote. */
  control?: true;
}

export interface StoreChange {
  prekeys?: OwnPrekeysState;
  records?: { peerDevice: string; record: SessionRecordJson }[];
  /** Added, never replaced: a message id already stored makes the whole commit fail. */
  inbox?: InboxMessage[];
  outbox?: OutboxEntry[];
  /** Outbox ids the node acknowledged. */
  outboxDone?: string[];
  /** Group records replaced (or, with `removed`, deleted: this device left the group). */
  groups?: { record: GroupRecord; removed?: boolean }[];
  /** Person records (linked devices) replaced, or deleted with `removed`. */
  people?: { record: PersonRecord; removed?: boolean }[];
  /**
   * Commit only if the store is still at this revision (what the step read it at); otherwise reject with
   * DeviceKeysError state_changed and write nothing. Another tab of the same device committed meanwhile, and
   * this step's state is stale: it must read again.
   */
  ifRevision?: number;
}

export interface SessionStore {
  loadPrekeys(): Promise<OwnPrekeysState | undefined>;
  loadRecord(peerDevice: string): Promise<SessionRecordJson | undefined>;
  inboxMessage(id: string): Promise<InboxMessage | undefined>;
  outbox(): Promise<OutboxEntry[]>;
  loadGroup(groupId: string): Promise<GroupRecord | undefined>;
  allGroups(): Promise<GroupRecord[]>;
  allPeople(): Promise<PersonRecord[]>;
  /** Bumped by every commit: a step reads it first and commits ifRevision it. */
  revision(): Promise<number>;
  /** All of it in one transaction, or none of it (rejects then). */
  commit(change: StoreChange): Promise<void>;
  close(): void;
}

/** The same contract in memory (tests, benchmarks): copies in and out, all-or-nothing commits. */
export class MemorySessionStore implements SessionStore {
  private prekeys: OwnPrekeysState | undefined;
  private readonly records = new Map<string, SessionRecordJson>();
  private readonly inbox = new Map<string, InboxMessage>();
  private readonly out = new Map<string, OutboxEntry>();
  private rev = 0;
  private readonly groupRecords = new Map<string, GroupRecord>();
  private readonly personRecords = new Map<string, PersonRecord>();

  async loadPrekeys(): Promise<OwnPrekeysState | undefined> {
    return this.prekeys && structuredClone(this.prekeys);
  }
  async loadRecord(peerDevice: string): Promise<SessionRecordJson | undefined> {
    const r = this.records.get(peerDevice);
    return r && structuredClone(r);
  }
  async inboxMessage(id: string): Promise<InboxMessage | undefined> {
    const m = this.inbox.get(id);
    return m && structuredClone(m);
  }
  async outbox(): Promise<OutboxEntry[]> {
    return [...this.out.values()].map((e) => structuredClone(e));
  }
  async loadGroup(groupId: string): Promise<GroupRecord | undefined> {
    const g = this.groupRecords.get(groupId);
    return g && structuredClone(g);
  }
  async allGroups(): Promise<GroupRecord[]> {
    return [...this.groupRecords.values()].map((g) => structuredClone(g));
  }
  async allPeople(): Promise<PersonRecord[]> {
    return [...this.personRecords.values()].map((p) => structuredClone(p));
  }
  async revision(): Promise<number> {
    return this.rev;
  }
  async commit(change: StoreChange): Promise<void> {
    // Everything is cloned and checked before the first write, so a refusal leaves the store untouched.
    const c = structuredClone(change);
    if (c.ifRevision !== undefined && c.ifRevision !== this.rev) throw stateChanged();
    for (const m of c.inbox ?? []) if (this.inbox.has(m.id)) throw new Error(`inbox message ${m.id} already stored`);
    for (const e of c.outbox ?? []) if (this.out.has(e.id)) throw new Error(`outbox entry ${e.id} already stored`);
    if (c.prekeys) this.prekeys = c.prekeys;
    for (const r of c.records ?? []) this.records.set(r.peerDevice, r.record);
    for (const m of c.inbox ?? []) this.inbox.set(m.id, m);
    for (const e of c.outbox ?? []) this.out.set(e.id, e);
    for (const id of c.outboxDone ?? []) this.out.delete(id);
    for (const g of c.groups ?? []) {
      if (g.removed) this.groupRecords.delete(g.record.group_id);
      else this.groupRecords.set(g.record.group_id, g.record);
    }
    for (const p of c.people ?? []) {
      if (p.removed) this.personRecords.delete(p.record.person_id);
      else this.personRecords.set(p.record.person_id, p.record);
    }
    this.rev++;
  }
  close(): void {}
}

export function stateChanged(): DeviceKeysError {
  return new DeviceKeysError('state_changed', 'another tab of this device changed its session state meanwhile');
}
