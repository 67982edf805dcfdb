// home_devices: the devices each paired desktop announced over the peer link. A device id belongs to one node
// (primary key), so an announce can only replace the announcing node's own rows; the link refuses claims on
// ids served elsewhere before they get here.
import { eq } from 'drizzle-orm';
import { parseIdList } from '../../../server/db/json-id-list.js';
import type { AnnouncedDevice } from '../../../shared/wire/peer-link.js';
import type { Db } from './open-database.js';
import { homeDevices } from './schema.js';

export type HomeDeviceRow = typeof homeDevices.$inferSelect;

export class HomeDeviceRepository {
  constructor(private readonly db: Db) {}

  /** Replaces everything `nodeId` announced with `devices`; returns whether anything changed. */
  replaceFor(nodeId: string, devices: readonly AnnouncedDevice[]): boolean {
    const now = new Date().toISOString();
    const replacesOf = (d: AnnouncedDevice) => (d.replaces?.length ? JSON.stringify(d.replaces) : null);
    return this.db.transaction((tx) => {
      const before = tx.select().from(homeDevices).where(eq(homeDevices.nodeId, nodeId)).all();
      const same =
        before.length === devices.length &&
        devices.every((d) =>
          before.some(
            (r) =>
              r.deviceId === d.device_id &&
              r.publicKey === d.public_key &&
              r.name === d.name &&
              r.kind === d.kind &&
              r.replaces === replacesOf(d),
          ),
        );
      if (same) return false;
      tx.delete(homeDevices).where(eq(homeDevices.nodeId, nodeId)).run();
      for (const d of devices) {
        tx.insert(homeDevices)
          .values({
            deviceId: d.device_id,
            nodeId,
            publicKey: d.public_key,
            name: d.name,
            kind: d.kind,
            replaces: replacesOf(d),
            updatedAt: now,
          })
          .onConflictDoNothing()
          .run();
      }
      return true;
    });
  }

  forNode(nodeId: string): AnnouncedDevice[] {
    return this.db
      .select()
      .from(homeDevices)
      .where(eq(homeDevices.nodeId, nodeId))
      .orderBy(homeDevices.name, homeDevices.deviceId)
      .all()
      .map((r) => {
        const replaces = parseIdList(r.replaces);
        return { device_id: r.deviceId, public_key: r.publicKey, name: r.name, kind: r.kind, ...(replaces.length ? { replaces } : {}) };
      });
  }

  get(deviceId: string): HomeDeviceRow | undefined {
    return this.db.select().from(homeDevices).where(eq(homeDevices.deviceId, deviceId)).get();
  }

  removeFor(nodeId: string): number {
    return this.db.delete(homeDevices).where(eq(homeDevices.nodeId, nodeId)).run().changes;
  }
}
