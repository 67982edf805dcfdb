// The To list, grouped by the desktop that serves each device: this node's devices first, then each paired
// desktop of the home under its current name, then devices of other homes (known from the cloud). No DOM,
// so the grouping can be tested in Node from a directory as the node sends it.
import type { HomeNodeView, MessagingDirectory, MessagingDirectoryDevice } from '../../../shared/wire/relay.js';

/** Where the list is shown: the desktop UI calls its own node "This desktop"; a phone calls it by name. */
export type ListPlace = 'desktop' | 'phone';

export interface RecipientGroup {
  /** Stable across refreshes: 'local', 'node:<node_id>', 'remote', 'gone'. */
  key: string;
  label: string;
  /** The desktop serving the group (local and home groups). */
  node_id?: string;
  /** That desktop's peer link is down (only ever true for a paired desktop). */
  offline: boolean;
  devices: MessagingDirectoryDevice[];
}

export const REMOTE_GROUP_LABEL = 'Other homes (through the cloud)';
export const GONE_GROUP_LABEL = 'No longer in the list';

function byName(a: MessagingDirectoryDevice, b: MessagingDirectoryDevice): number {
  return a.name.localeCompare(b.name) || (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0);
}

/** "Ana's phone (phone)": the option text, before any "2 new". */
export function recipientLabel(d: Pick<MessagingDirectoryDevice, 'name' | 'kind'>): string {
  return `${d.name} (${d.kind === 'phone' ? 'phone' : 'desktop'})`;
}

/** The node a home or local device is served by, as the directory lists it. */
export function nodeOfDevice(dir: MessagingDirectory, deviceId: string): HomeNodeView | undefined {
  const d = dir.devices.find((x) => x.device_id === deviceId);
  if (!d || d.home === 'remote' || !d.node_id) return undefined;
  return dir.nodes.find((n) => n.node_id === d.node_id);
}

/**
 * Every device `dir.me` can write to, grouped. Groups without devices are left out. A home device whose node
 * the directory does not list (it should) still gets a group, named by the device's node_name.
 */
export function groupRecipients(dir: MessagingDirectory, place: ListPlace): RecipientGroup[] {
  const self = dir.nodes.find((n) => n.self);
  const local: MessagingDirectoryDevice[] = [];
  const remote: MessagingDirectoryDevice[] = [];
  const byNode = new Map<string, MessagingDirectoryDevice[]>();
  for (const d of dir.devices) {
    if (d.device_id === dir.me) continue;
    // A device of this node, however the directory tags it (older nodes: home 'local' without node_id).
    if (d.home === 'local' || (self && d.node_id === self.node_id)) local.push(d);
    else if (d.home === 'home') {
      const key = d.node_id ?? `unknown:${d.node_name ?? ''}`;
      byNode.set(key, [...(byNode.get(key) ?? []), d]);
    } else remote.push(d);
  }

  const groups: RecipientGroup[] = [];
  if (local.length) {
    const name = self?.name ?? local.find((d) => d.node_name)?.node_name ?? 'This desktop';
    groups.push({
      key: 'local',
      label: place === 'desktop' ? 'This desktop' : name,
      ...(self ? { node_id: self.node_id } : {}),
      offline: false,
      devices: local.sort(byName),
    });
  }
  // Paired desktops in the directory's order (by name), then any it did not list.
  const order = dir.nodes.filter((n) => !n.self).map((n) => n.node_id);
  const keys = [...byNode.keys()].sort((a, b) => {
    const ia = order.indexOf(a),
      ib = order.indexOf(b);
    return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib) || a.localeCompare(b);
  });
  for (const key of keys) {
    const devices = byNode.get(key)!.sort(byName);
    const node = dir.nodes.find((n) => n.node_id === key);
    const name = node?.name ?? devices.find((d) => d.node_name)?.node_name ?? 'Another desktop of this home';
    const offline = node ? !node.online : false;
    groups.push({
      key: `node:${key}`,
      label: offline ? `${name} (offline)` : name,
      ...(devices[0]?.node_id ? { node_id: devices[0].node_id } : {}),
      offline,
      devices,
    });
  }
  if (remote.length) groups.push({ key: 'remote', label: REMOTE_GROUP_LABEL, offline: false, devices: remote.sort(byName) });
  return groups;
}
