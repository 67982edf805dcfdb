// A small group (at most MAX_GROUP_DEVICES devices) on Sender Keys (docs/e2ee.md "Groups"). A group has an id,
// a name, an epoch and its member devices (each with its identity key). Only a member changes it: a change names
// the next epoch and the whole new member list and name, and is signed (XEdDSA) by that member's identity key,
// so every member checks who made it. At every change each remaining member starts a new sender key for the
// new epoch and hands it to the members of that epoch only: a removed member holds nothing of the new epoch
// and reads nothing that follows. Transport-agnostic: what a step returns to send goes to each device over its
// pairwise session (`toDevices` + a GroupPayload), and a group message to every other member as it is.
// Pure functions over plain-JSON state; a refusal (GroupError) leaves the caller's state as it was.
import { randomBytes } from '@noble/hashes/utils.js';
import { checkDeviceList, type DeviceKeyEntry, deviceListBytes } from '../device-list.js';
import { lp } from '../e2ee/envelope.js';
import { DeviceId } from '../e2ee/schema.js';
import { concatBytes, fromBase64Url, toBase64Url, u32be } from '../encoding.js';
import type { IdentityKeyPair } from '../ratchet/pqxdh.js';
import { xeddsaSign, xeddsaVerify } from '../ratchet/xeddsa.js';
import { GroupError } from './errors.js';
import {
  chainFromDistribution,
  distributionOf,
  type GroupMessage,
  isU32,
  newSenderChain,
  type SenderChainJson,
  type SenderKeyDistribution,
  senderKeyDecrypt,
  senderKeyEncrypt,
} from './sender-key.js';

export const MAX_GROUP_DEVICES = 100;
export const MAX_GROUP_NAME_CHARS = 100;
export const GROUP_CHANGE_LABEL = 'salita/group/v1/change';
/** Distributions kept for an epoch whose change has not come yet (they may overtake it), in all. */
const MAX_PENDING = MAX_GROUP_DEVICES;

export type GroupMember = DeviceKeyEntry;

/** A membership change: the group as it is from `epoch` on, signed by `by_device`, a member before it. */
export interface GroupChange {
  group_id: string;
  epoch: number;
  name: string;
  members: GroupMember[];
  by_device: string;
  signature: string;
}

/** What goes over a pairwise session to one member: a change to apply and/or the sender's new key. */
export interface GroupPayload {
  t: 'group';
  change?: GroupChange;
  sender_key?: SenderKeyDistribution;
}

/** Send `payload` to each of `toDevices` over its pairwise session. */
export interface GroupOutbound {
  toDevices: string[];
  payload: GroupPayload;
}

export interface GroupState {
  v: 1;
  group_id: string;
  name: string;
  epoch: number;
  members: GroupMember[];
  me: string;
  /** This device's chain for the current epoch. */
  own: SenderChainJson;
  /** Other members' chains by device: the current epoch's, and the one before it for messages in flight. */
  chains: Record<string, SenderChainJson[]>;
  /** Distributions for a later epoch that came before its change. */
  pending: SenderKeyDistribution[];
}

/** A checked member list: 1..MAX_GROUP_DEVICES devices, ids valid and unique, keys 32 bytes; sorted by id. */
export function checkMembers(members: unknown): GroupMember[] {
  return checkDeviceList(members, MAX_GROUP_DEVICES, 'members', (f) =>
    f.kind === 'entry'
      ? new GroupError('group_bad_change', f.message)
      : new GroupError('group_too_large', `a group has 1 to ${MAX_GROUP_DEVICES} devices`),
  );
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim().length === 0 || [...name].length > MAX_GROUP_NAME_CHARS)
    throw new GroupError('group_bad_change', `a group name is 1 to ${MAX_GROUP_NAME_CHARS} characters`);
  return name;
}

/** The bytes a change's signature covers: everything in it but the signature, length-prefixed, members sorted. */
export function groupChangeBytes(c: Omit<GroupChange, 'signature'>): Uint8Array {
  return concatBytes([lp(GROUP_CHANGE_LABEL), lp(c.group_id), u32be(c.epoch), lp(c.name), deviceListBytes(c.members), lp(c.by_device)]);
}

function signChange(identity: IdentityKeyPair, c: Omit<GroupChange, 'signature'>): GroupChange {
  return { ...c, signature: toBase64Url(xeddsaSign(identity.privateKey, groupChangeBytes(c))) };
}

function verifyChange(c: GroupChange, signerKey: string): boolean {
  try {
    return xeddsaVerify(fromBase64Url(signerKey), groupChangeBytes(c), fromBase64Url(String(c.signature)));
  } catch {
    return false;
  }
}

const others = (members: GroupMember[], me: string) => members.filter((m) => m.device_id !== me).map((m) => m.device_id);

/** The state at a new epoch: a new own chain, and others' chains of the epoch before kept only for remaining members. */
function atEpoch(prev: GroupState | undefined, base: Omit<GroupState, 'own' | 'chains' | 'pending' | 'v'>): GroupState {
  const stay = new Set(base.members.map((m) => m.device_id));
  const chains: Record<string, SenderChainJson[]> = {};
  for (const [device, list] of Object.entries(prev?.chains ?? {})) {
    if (!stay.has(device)) continue; // a removed member's chains go: nothing more of theirs is opened
    const recent = list.filter((c) => c.epoch === base.epoch - 1);
    if (recent.length) chains[device] = recent;
  }
  const state: GroupState = { v: 1, ...base, own: newSenderChain(base.epoch), chains, pending: [] };
  // Distributions that overtook this change now find their epoch.
  let s = state;
  for (const d of prev?.pending ?? []) {
    if (d.epoch === base.epoch && stay.has(d.sender_device) && d.sender_device !== base.me) s = withChain(s, d);
    else if (d.epoch > base.epoch) s = { ...s, pending: [...s.pending, d] };
  }
  return s;
}

/**
 * Adds a member's chain for its epoch. One already held for that epoch is kept as it is: a distribution seen
 * again (re-delivered, or replayed by a node) must not wind the chain back, or messages read since would open
 * a second time.
 */
function withChain(state: GroupState, d: SenderKeyDistribution): GroupState {
  const chain = chainFromDistribution(d);
  const list = state.chains[d.sender_device] ?? [];
  if (list.some((c) => c.epoch === d.epoch)) return state;
  return { ...state, chains: { ...state.chains, [d.sender_device]: [...list, chain].sort((a, b) => a.epoch - b.epoch).slice(-2) } };
}

function announce(state: GroupState, change?: GroupChange): GroupOutbound {
  return {
    toDevices: others(state.members, state.me),
    payload: { t: 'group', ...(change ? { change } : {}), sender_key: distributionOf(state.own, state.group_id, state.me) },
  };
}

export interface CreateGroupOptions {
  me: string;
  identity: IdentityKeyPair;
  name: string;
  /** The other member devices (this device is added). */
  members: GroupMember[];
  groupId?: string;
}

/** A new group at epoch 1, created by this device: the state, and the change + our sender key for the others. */
export function createGroup(opts: CreateGroupOptions): { state: GroupState; outbound: GroupOutbound } {
  const self: GroupMember = { device_id: opts.me, identity_key: toBase64Url(opts.identity.publicKey) };
  const members = checkMembers([self, ...opts.members.filter((m) => m.device_id !== opts.me)]);
  const group_id = opts.groupId ?? `group-${toBase64Url(randomBytes(16))}`;
  if (!DeviceId.safeParse(group_id).success) throw new GroupError('group_invalid_argument', 'groupId: letters, digits, . _ - only');
  const change = signChange(opts.identity, { group_id, epoch: 1, name: checkName(opts.name), members, by_device: opts.me });
  const state = atEpoch(undefined, { group_id, name: change.name, epoch: 1, members, me: opts.me });
  return { state, outbound: announce(state, change) };
}

/**
 * This device changes the group (a new name, members added or removed): the next epoch, signed by us, applied
 * here at once. The change goes to everyone in the old or the new list (a removed member learns it is out),
 * our new sender key only to the new list.
 */
export function changeGroup(
  state: GroupState,
  identity: IdentityKeyPair,
  next: { name?: string; members: GroupMember[] },
): { state: GroupState; outbound: GroupOutbound[] } {
  if (!state.members.some((m) => m.device_id === state.me)) throw new GroupError('group_not_member', 'this device is not a member');
  const members = checkMembers(next.members);
  if (!members.some((m) => m.device_id === state.me)) throw new GroupError('group_bad_change', 'leave by being removed by another member');
  const change = signChange(identity, {
    group_id: state.group_id,
    epoch: state.epoch + 1,
    name: checkName(next.name ?? state.name),
    members,
    by_device: state.me,
  });
  const after = atEpoch(state, { group_id: state.group_id, name: change.name, epoch: change.epoch, members, me: state.me });
  const removed = others(state.members, state.me).filter((id) => !members.some((m) => m.device_id === id));
  return {
    state: after,
    outbound: [announce(after, change), ...(removed.length ? [{ toDevices: removed, payload: { t: 'group' as const, change } }] : [])],
  };
}

export type Applied =
  /** Applied: send our new sender key to the other members. */
  | { state: GroupState; outbound: GroupOutbound; removed: false }
  /** We are no longer a member: forget the group (nothing of it can be read any more). */
  | { state: undefined; outbound: undefined; removed: true };

/**
 * Applies a change another member made. With a state: it must be the next epoch, signed by a member of the
 * current list under the key listed for it. Without one (we are being added, or the group is new): it must list
 * us, and be signed by `from` (the device whose pairwise session it came on, under `fromIdentityKey`), which
 * must be in the new list under that key: only a member can add us.
 */
export function applyGroupChange(
  state: GroupState | undefined,
  change: GroupChange,
  ctx: {
    me: string;
    from: string;
    fromIdentityKey: string;
    /**
     * Without a state: sender keys of this group that came before the change that adds us, each as it came on
     * its own device's pairwise session (kept by the caller; used only for devices the change lists).
     */
    early?: SenderKeyDistribution[];
  },
): Applied {
  if (!change || typeof change !== 'object' || !isU32(change.epoch)) throw new GroupError('group_bad_change', 'not a group change');
  const members = checkMembers(change.members);
  const name = checkName(change.name);
  let signerKey: string | undefined;
  if (state) {
    if (change.group_id !== state.group_id) throw new GroupError('group_bad_change', 'a change of another group');
    if (change.epoch !== state.epoch + 1)
      throw new GroupError('group_bad_change', `a change to epoch ${change.epoch}; this group is at ${state.epoch}`);
    signerKey = state.members.find((m) => m.device_id === change.by_device)?.identity_key;
    if (!signerKey) throw new GroupError('group_bad_change', `${change.by_device} is not a member: it cannot change the group`);
  } else {
    if (change.by_device !== ctx.from)
      throw new GroupError('group_bad_change', 'a change that adds us must come from the member who made it');
    signerKey = members.find((m) => m.device_id === change.by_device)?.identity_key;
    if (signerKey !== ctx.fromIdentityKey)
      throw new GroupError('group_bad_change', 'the change is not under the key of the device it came from');
  }
  if (!verifyChange(change, signerKey)) throw new GroupError('group_bad_change', `the change is not signed by ${change.by_device}`);
  if (!members.some((m) => m.device_id === ctx.me)) return { state: undefined, outbound: undefined, removed: true };
  const prev = state ?? earlyState(change.group_id, ctx.early);
  const after = atEpoch(prev, { group_id: change.group_id, name, epoch: change.epoch, members, me: ctx.me });
  return { state: after, outbound: announce(after), removed: false };
}

/** Only the sender keys of a group we do not hold yet, as pending ones (the other fields are not read). */
function earlyState(groupId: string, early: SenderKeyDistribution[] | undefined): GroupState | undefined {
  const pending = (early ?? []).filter((d) => d?.group_id === groupId).slice(-MAX_PENDING);
  if (!pending.length) return undefined;
  return { v: 1, group_id: groupId, name: '', epoch: 0, members: [], me: '', own: newSenderChain(0), chains: {}, pending };
}

/**
 * Takes another member's sender key, as it came over the pairwise session from `from`. For the current epoch it
 * is used at once; for a later one it waits for that epoch's change (bounded); an earlier epoch's, or one from a
 * device that is not a member, is refused.
 */
export function acceptSenderKey(state: GroupState, d: SenderKeyDistribution, from: string): GroupState {
  if (!d || d.group_id !== state.group_id) throw new GroupError('group_bad_message', 'a sender key of another group');
  if (d.sender_device !== from) throw new GroupError('group_bad_message', "a sender key must come from its own device's session");
  chainFromDistribution(d);
  if (d.epoch > state.epoch) {
    const pending = [...state.pending.filter((p) => !(p.sender_device === d.sender_device && p.epoch === d.epoch)), d];
    return { ...state, pending: pending.slice(-MAX_PENDING) };
  }
  if (d.epoch < state.epoch) throw new GroupError('group_unknown_sender', `a sender key of the past epoch ${d.epoch}`);
  if (!state.members.some((m) => m.device_id === from && m.device_id !== state.me))
    throw new GroupError('group_unknown_sender', `${from} is not a member of this epoch`);
  return withChain(state, d);
}

/** Seals `plaintext` for the group: the same message goes to every other member device. */
export function groupEncrypt(state: GroupState, plaintext: Uint8Array): { state: GroupState; message: GroupMessage; toDevices: string[] } {
  const r = senderKeyEncrypt(state.own, state.group_id, state.me, plaintext);
  return { state: { ...state, own: r.chain }, message: r.message, toDevices: others(state.members, state.me) };
}

/** Opens a group message with the chain its sender distributed for its epoch. */
export function groupDecrypt(state: GroupState, message: GroupMessage): { state: GroupState; plaintext: Uint8Array } {
  if (!message || message.group_id !== state.group_id) throw new GroupError('group_bad_message', 'a message of another group');
  const list = state.chains[message.sender_device] ?? [];
  const chain = list.find((c) => c.epoch === message.epoch);
  if (!chain) throw new GroupError('group_unknown_sender', `no sender key of ${message.sender_device} for epoch ${message.epoch}`);
  const r = senderKeyDecrypt(chain, message);
  return {
    state: { ...state, chains: { ...state.chains, [message.sender_device]: list.map((c) => (c === chain ? r.chain : c)) } },
    plaintext: r.plaintext,
  };
}
