// The home directory: which paired desktop serves which device, as each announced over its peer link
// (home_devices), plus the desktops themselves (mesh rows). Read by the router (HomeDirectory port); written by
// the peer-link service, which refuses claims on device ids that are ours or another desktop's.
import type { AnnouncedDevice } from '../../../shared/wire/peer-link.js';
import { keepReplaces } from '../../../shared/wire/relay.js';
import type { HomeDeviceRepository } from '../db/home-device-repository.js';
import type { MeshRepository } from '../db/mesh-repository.js';
import type { HomeDirectory } from '../routing/ports.js';

export class HomeDirectoryStore implements HomeDirectory {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly devices: HomeDeviceRepository,
    private readonly mesh: MeshRepository,
    private readonly isUp: (nodeId: string) => boolean,
  ) {}

  nodeOf(deviceId: string): string | undefined {
    const row = this.devices.get(deviceId);
    if (!row) return undefined;
    const node = this.mesh.get(row.nodeId);
    return node && !node.isCurrent && !node.endedByPeerAt ? row.nodeId : undefined;
  }

  nodes(): { node_id: string; name: string; online: boolean; devices: AnnouncedDevice[] }[] {
    return this.mesh
      .peers()
      .filter((r) => r.kind === 'desktop' && !r.endedByPeerAt && r.publicKey)
      .map((r) => ({ node_id: r.id, name: r.name, online: this.isUp(r.id), devices: this.devices.forNode(r.id) }));
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * What `nodeId` announced, minus the ids it may not claim: ours (`localIds`) and those another desktop serves.
   * Stores the rest (replacing its previous set); returns the refused ids.
   */
  announce(nodeId: string, announced: readonly AnnouncedDevice[], localIds: ReadonlySet<string>): string[] {
    const refused: string[] = [];
    const accepted: AnnouncedDevice[] = [];
    const seen = new Set<string>();
    for (const d of announced) {
      const owner = this.devices.get(d.device_id)?.nodeId;
      if (
        localIds.has(d.device_id) ||
        (owner !== undefined && owner !== nodeId && this.nodeOf(d.device_id) !== undefined) ||
        seen.has(d.device_id)
      ) {
        refused.push(d.device_id);
        continue;
      }
      // A stale row of a node that is gone (unpaired, ended) gives way to the new owner.
      if (owner !== undefined && owner !== nodeId) this.devices.removeFor(owner);
      seen.add(d.device_id);
      accepted.push(d);
    }
    // A desktop may say which old ids its own devices replaced, never that one replaces a device served now
    // (ours, another desktop's, or one it announces itself): that would put someone else's trust on its device.
    const announcedIds = new Set(accepted.map((d) => d.device_id));
    const mayName = (id: string) => {
      const servedBy = this.nodeOf(id);
      return !localIds.has(id) && !announcedIds.has(id) && (servedBy === undefined || servedBy === nodeId);
    };
    if (
      this.devices.replaceFor(
        nodeId,
        accepted.map((d) => keepReplaces(d, mayName)),
      )
    )
      this.changed();
    return refused;
  }

  /** Forgets what `nodeId` announced (unpaired either way). */
  forget(nodeId: string): void {
    if (this.devices.removeFor(nodeId) > 0) this.changed();
  }

  changed(): void {
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch {
        // One broken listener must not stop the others.
      }
    }
  }
}
