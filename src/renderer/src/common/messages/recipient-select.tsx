// The To list, grouped by the desktop that serves each device: the accessible way to pick a conversation
// (a select any screen reader and keyboard knows), next to the conversation list.
import type { Conversations } from '../conversation.js';
import { GONE_GROUP_LABEL, type RecipientGroup, recipientLabel } from '../recipient-groups.js';

export function RecipientSelect({
  groups,
  chats = [],
  people = [],
  selected,
  conv,
  onChoose,
}: {
  groups: readonly RecipientGroup[];
  /** The groups of devices this device is in (peer: groupPeer of the group). */
  chats?: readonly { peer: string; name: string; members: number }[];
  /** Contacts with linked devices (peer: personPeer of the person). */
  people?: readonly { peer: string; name: string; devices: number }[];
  selected: string | undefined;
  conv: Conversations;
  onChoose: (peer: string | undefined) => void;
}) {
  const known =
    groups.some((g) => g.devices.some((d) => d.device_id === selected)) ||
    chats.some((c) => c.peer === selected) ||
    people.some((p) => p.peer === selected);
  const all: RecipientGroup[] =
    selected && !known ? [...groups, { key: 'gone', label: GONE_GROUP_LABEL, offline: false, devices: [] }] : [...groups];
  if (all.length === 0 && chats.length === 0 && people.length === 0) return null;
  const label = (id: string, text: string) => {
    const n = conv.unread(id);
    return n ? `${text}, ${n} new` : text;
  };
  return (
    <>
      <label for="message-to">To</label>
      <select
        id="message-to"
        data-testid="message-to"
        name="to"
        value={selected ?? ''}
        onChange={(e) => onChoose((e.currentTarget as HTMLSelectElement).value || undefined)}
      >
        {all.map((g) => (
          <optgroup key={g.key} label={g.label} data-group={g.key} data-node-id={g.node_id} data-offline={String(g.offline)}>
            {g.key === 'gone' && selected ? (
              <option value={selected}>{label(selected, `${selected} (not in the list now)`)}</option>
            ) : (
              g.devices.map((d) => (
                <option key={d.device_id} value={d.device_id}>
                  {label(d.device_id, recipientLabel(d))}
                </option>
              ))
            )}
          </optgroup>
        ))}
        {people.length ? (
          <optgroup label="People (all their devices)" data-group="people">
            {people.map((p) => (
              <option key={p.peer} value={p.peer}>
                {label(p.peer, `${p.name} (${p.devices} devices)`)}
              </option>
            ))}
          </optgroup>
        ) : null}
        {chats.length ? (
          <optgroup label="Groups" data-group="groups">
            {chats.map((c) => (
              <option key={c.peer} value={c.peer}>
                {label(c.peer, `${c.name} (group of ${c.members})`)}
              </option>
            ))}
          </optgroup>
        ) : null}
      </select>
    </>
  );
}
