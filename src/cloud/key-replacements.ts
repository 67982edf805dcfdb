// Which older ids each published device replaced when it was re-paired at its desktop (docs/cloud.md "Key
// directory"): a node states it for its own devices, and every reader's phones then show "safety number
// changed" for the new id instead of a stranger. The cloud keeps a claim only for a device the node publishes
// now, and only old ids that node itself published first and that no device is published under now: no node can
// put its device in the place of another node's device, present or gone.
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { parseIdList } from '../server/db/json-id-list.js';
import type { DeviceReplacement } from '../shared/wire/relay.js';
import type { CloudDb } from './db/open.js';
import { deviceIdOrigins, deviceReplacements, directoryDevices } from './db/schema.js';
import { CloudError } from './errors.js';

/** Replaces `node`'s claims with `list` (what it may claim of it); returns what was kept. One transaction. */
export function publishReplacements(db: CloudDb, node: string, list: readonly DeviceReplacement[], at: string): DeviceReplacement[] {
  const ids = list.map((r) => r.device_id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new CloudError(400, 'invalid_request', `device ${dup} is listed twice.`);
  return db.transaction((tx) => {
    const own = new Set(
      tx
        .select({ id: directoryDevices.deviceId })
        .from(directoryDevices)
        .where(eq(directoryDevices.node, node))
        .all()
        .map((r) => r.id),
    );
    // The old ids this node published first and that no device is published under now.
    const named = [...new Set(list.flatMap((r) => r.replaces))];
    const claimable = new Set(
      named.length === 0
        ? []
        : tx
            .select({ id: deviceIdOrigins.deviceId })
            .from(deviceIdOrigins)
            .leftJoin(directoryDevices, eq(directoryDevices.deviceId, deviceIdOrigins.deviceId))
            .where(and(inArray(deviceIdOrigins.deviceId, named), eq(deviceIdOrigins.node, node), isNull(directoryDevices.deviceId)))
            .all()
            .map((r) => r.id),
    );
    tx.delete(deviceReplacements).where(eq(deviceReplacements.node, node)).run();
    const kept: DeviceReplacement[] = [];
    for (const r of list) {
      if (!own.has(r.device_id)) continue;
      const replaces = [...new Set(r.replaces)].filter((id) => id !== r.device_id && claimable.has(id));
      if (replaces.length === 0) continue;
      tx.insert(deviceReplacements)
        .values({ deviceId: r.device_id, node, replaces: JSON.stringify(replaces), updatedAt: at })
        .run();
      kept.push({ device_id: r.device_id, replaces });
    }
    return kept;
  });
}

/** Every claim whose device its node still publishes, and whose old ids are still published by nobody. */
export function listReplacements(db: CloudDb, visible: ReadonlySet<string>): DeviceReplacement[] {
  const rows = db
    .select({
      deviceId: deviceReplacements.deviceId,
      replaces: deviceReplacements.replaces,
      owner: directoryDevices.node,
      node: deviceReplacements.node,
    })
    .from(deviceReplacements)
    .innerJoin(directoryDevices, eq(directoryDevices.deviceId, deviceReplacements.deviceId))
    .all()
    .filter((r) => r.owner === r.node && visible.has(r.owner));
  const published = new Set(
    db
      .select({ id: directoryDevices.deviceId })
      .from(directoryDevices)
      .all()
      .map((r) => r.id),
  );
  const out: DeviceReplacement[] = [];
  for (const r of rows) {
    const replaces = parseIdList(r.replaces).filter((id) => !published.has(id));
    if (replaces.length) out.push({ device_id: r.deviceId, replaces });
  }
  return out;
}
