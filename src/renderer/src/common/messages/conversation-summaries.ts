// The conversation list: one entry per device talked with or listed in the directory, newest conversation
// first, each with its last message in one line and how many incoming messages are not yet read. No DOM.
import type { MessagingDirectory } from '../../../../shared/wire/relay.js';
import { type ConversationMessage, groupIdOf, personIdOf } from '../conversation.js';
import { previewOf } from './message-preview.js';

export interface ConversationSummary {
  peer: string;
  name: string;
  kind: 'phone' | 'desktop' | 'group' | 'person' | undefined;
  /** The desktop serving it, when it is not this page's own (for "Ana's phone · Study PC"). */
  where: string | undefined;
  last: ConversationMessage | undefined;
  preview: string;
  unread: number;
  /** It is no longer in the directory (unpaired, or its home left the cloud): kept for its messages. */
  gone: boolean;
}

/** Incoming messages not yet read, in a list of messages of any conversations. */
export function countUnread(messages: Iterable<ConversationMessage>): number {
  let n = 0;
  for (const m of messages) if (m.dir === 'in' && m.unread) n++;
  return n;
}

/** A group this device is in, as the conversation list shows it. */
export interface GroupEntry {
  peer: string;
  name: string;
  members: number;
}

/** A contact with several linked devices, as the conversation list shows it. */
export interface PersonEntry {
  peer: string;
  name: string;
  devices: number;
}

/**
 * Every device of the directory (but this one), every group, every contact with linked devices, and every peer
 * of `messages`; those with messages first, the most recent first, then the others by name.
 */
export function summarize(
  dir: MessagingDirectory | undefined,
  messages: readonly ConversationMessage[],
  groups: readonly GroupEntry[] = [],
  people: readonly PersonEntry[] = [],
): ConversationSummary[] {
  const byPeer = new Map<string, ConversationMessage[]>();
  for (const m of messages) byPeer.set(m.peer, [...(byPeer.get(m.peer) ?? []), m]);
  const self = dir?.nodes.find((n) => n.self)?.node_id;
  const out = new Map<string, ConversationSummary>();
  const entry = (peer: string, name: string, kind: ConversationSummary['kind'], where: string | undefined, gone: boolean) => {
    const list = byPeer.get(peer) ?? [];
    const last = list.reduce<ConversationMessage | undefined>(
      (a, m) => (!a || a.sent_at < m.sent_at || (a.sent_at === m.sent_at && a.id < m.id) ? m : a),
      undefined,
    );
    out.set(peer, { peer, name, kind, where, last, preview: last ? previewOf(last) : '', unread: countUnread(list), gone });
  };
  for (const d of dir?.devices ?? []) {
    if (d.device_id === dir?.me) continue;
    const where = d.home === 'remote' ? 'another home' : d.node_id && d.node_id !== self ? d.node_name : undefined;
    entry(d.device_id, d.name, d.kind, where, false);
  }
  for (const g of groups) entry(g.peer, g.name, 'group', `${g.members} devices`, false);
  for (const p of people) entry(p.peer, p.name, 'person', `${p.devices} devices`, false);
  for (const peer of byPeer.keys()) {
    if (out.has(peer)) continue;
    // A group this device is no longer in: its messages stay, under a name that says so.
    if (groupIdOf(peer) !== undefined) entry(peer, 'A group you are no longer in', 'group', undefined, true);
    else if (personIdOf(peer) !== undefined) entry(peer, 'Someone no longer linked', 'person', undefined, true);
    else entry(peer, peer, undefined, undefined, true);
  }
  return [...out.values()].sort((a, b) => {
    if (a.last && b.last) return a.last.sent_at < b.last.sent_at ? 1 : a.last.sent_at > b.last.sent_at ? -1 : 0;
    if (a.last || b.last) return a.last ? -1 : 1;
    return a.name.localeCompare(b.name) || (a.peer < b.peer ? -1 : 1);
  });
}
