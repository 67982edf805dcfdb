// Groups in the Messages section: "New group" (a name and the devices to put in it), and for an open group its
// members with "Edit" (rename, add, remove; a removal gives every remaining device a new key, so the removed one
// reads nothing that follows). The same form for both. Only devices of the directory can be members.
import { useEffect, useState } from 'preact/hooks';
import type { GroupState } from '../../../../shared/groups/group.js';
import type { MessagingDirectory } from '../../../../shared/wire/relay.js';

function GroupForm({
  dir,
  initialName,
  initialMembers,
  submitText,
  onSubmit,
  onCancel,
}: {
  dir: MessagingDirectory;
  initialName: string;
  initialMembers: readonly string[];
  submitText: string;
  onSubmit: (name: string, deviceIds: string[]) => Promise<boolean>;
  onCancel: () => void;
}) {
  const [name, setName] = useState(initialName);
  const [members, setMembers] = useState<Set<string>>(new Set(initialMembers));
  const [busy, setBusy] = useState(false);
  const candidates = dir.devices.filter((d) => d.device_id !== dir.me);
  const toggle = (id: string, on: boolean) => {
    const next = new Set(members);
    if (on) next.add(id);
    else next.delete(id);
    setMembers(next);
  };
  const ready = name.trim().length > 0 && members.size > 0 && !busy;
  return (
    <form
      class="stack group-form"
      data-testid="group-form"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        if (!ready) return;
        setBusy(true);
        const ok = await onSubmit(name.trim(), [...members]);
        setBusy(false);
        if (ok) onCancel();
      }}
    >
      <label>
        Group name
        <input
          data-testid="group-name"
          value={name}
          maxLength={100}
          onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <fieldset>
        <legend>Devices in the group</legend>
        {candidates.map((d) => (
          <label key={d.device_id} class="checkbox">
            <input
              type="checkbox"
              data-testid="group-member"
              value={d.device_id}
              checked={members.has(d.device_id)}
              onChange={(e) => toggle(d.device_id, (e.currentTarget as HTMLInputElement).checked)}
            />{' '}
            {d.name}
          </label>
        ))}
      </fieldset>
      <span class="actions">
        <button type="submit" class="primary" data-testid="group-submit" disabled={!ready}>
          {submitText}
        </button>
        <button type="button" data-testid="group-cancel" onClick={onCancel}>
          Cancel
        </button>
      </span>
    </form>
  );
}

/** "New group" and its form. */
export function NewGroup({ dir, onCreate }: { dir: MessagingDirectory; onCreate: (name: string, ids: string[]) => Promise<boolean> }) {
  const [open, setOpen] = useState(false);
  if (!dir.devices.some((d) => d.device_id !== dir.me)) return null;
  return open ? (
    <GroupForm
      dir={dir}
      initialName=""
      initialMembers={[]}
      submitText="Make the group"
      onSubmit={onCreate}
      onCancel={() => setOpen(false)}
    />
  ) : (
    <button type="button" data-testid="group-new" onClick={() => setOpen(true)}>
      New group
    </button>
  );
}

/** The open group: who is in it, and the form to change it. */
export function GroupPanel({
  dir,
  group,
  nameOf,
  onChange,
}: {
  dir: MessagingDirectory;
  group: GroupState;
  nameOf: (id: string) => string;
  onChange: (name: string, ids: string[]) => Promise<boolean>;
}) {
  const [editing, setEditing] = useState(false);
  useEffect(() => setEditing(false), [group.group_id]);
  const others = group.members.filter((m) => m.device_id !== group.me).map((m) => m.device_id);
  return (
    <div class="stack group-panel" data-testid="group-panel" data-group-id={group.group_id} data-epoch={group.epoch}>
      <p data-testid="group-members">
        In {group.name}: you, {others.map(nameOf).join(', ')}.{' '}
        {editing ? null : (
          <button type="button" data-testid="group-edit" onClick={() => setEditing(true)}>
            Edit the group
          </button>
        )}
      </p>
      {editing ? (
        <GroupForm
          dir={dir}
          initialName={group.name}
          initialMembers={others}
          submitText="Save the group"
          onSubmit={onChange}
          onCancel={() => setEditing(false)}
        />
      ) : null}
    </div>
  );
}
