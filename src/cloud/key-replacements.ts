// Which older ids each published device replaced when it was re-paired at its desktop (docs/cloud.md "Key
// directory"): a node states it for its own devices, and every reader's phones then show "safety number
// changed" for the new id instead of a stranger. The cloud keeps a claim only for a device the node publishes
// now, and only old ids that node itself published first and that no device is published under now: no node can
// put its device in the place of another node's device, present or gone.
import { parseIdList } from '../server/db/json-id-list.js';
import type { DeviceReplacement } from '../shared/wire/relay.js';
import { type CloudSql, marks } from './db/sql.js';
import { CloudError } from './errors.js';

/**
 * Publishes and replacement claims take this lock: each checks which node holds a device id and then writes, so
 * two at once (on two instances) must not both find an id free.
 */
export const DIRECTORY_LOCK = 'directory';

/** Replaces `node`'s claims with `list` (what it may claim of it); returns what was kept. One transaction. */
export function publishReplacements(
  sql: CloudSql,
  node: string,
  list: readonly DeviceReplacement[],
  at: string,
): Promise<DeviceReplacement[]> {
  const ids = list.map((r) => r.device_id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new CloudError(400, 'invalid_request', `device ${dup} is listed twice.`);
  return sql.tx(async (tx) => {
    await tx.lock(DIRECTORY_LOCK);
    const own = new Set(
      (await tx.all<{ id: string }>('SELECT device_id AS id FROM directory_devices WHERE node = ?', [node])).map((r) => r.id),
    );
    // The old ids this node published first and that no device is published under now.
    const named = [...new Set(list.flatMap((r) => r.replaces))];
    const claimable = new Set(
      named.length === 0
        ? []
        : (
            await tx.all<{ id: string }>(
              'SELECT o.device_id AS id FROM device_id_origins o LEFT JOIN directory_devices d ON d.device_id = o.device_id ' +
                `WHERE o.device_id IN (${marks(named.length)}) AND o.node = ? AND d.device_id IS NULL`,
              [...named, node],
            )
          ).map((r) => r.id),
    );
    await tx.run('DELETE FROM device_replacements WHERE node = ?', [node]);
    const kept: DeviceReplacement[] = [];
    for (const r of list) {
      if (!own.has(r.device_id)) continue;
      const replaces = [...new Set(r.replaces)].filter((id) => id !== r.device_id && claimable.has(id));
      if (replaces.length === 0) continue;
      await tx.run('INSERT INTO device_replacements (device_id, node, replaces, updated_at) VALUES (?, ?, ?, ?)', [
        r.device_id,
        node,
        JSON.stringify(replaces),
        at,
      ]);
      kept.push({ device_id: r.device_id, replaces });
    }
    return kept;
  });
}

/** Every claim whose device its node still publishes, and whose old ids are still published by nobody. */
export async function listReplacements(sql: CloudSql, visible: ReadonlySet<string>): Promise<DeviceReplacement[]> {
  const rows = (
    await sql.all<{ deviceId: string; replaces: string; owner: string; node: string }>(
      'SELECT r.device_id AS "deviceId", r.replaces AS replaces, d.node AS owner, r.node AS node FROM device_replacements r ' +
        'JOIN directory_devices d ON d.device_id = r.device_id',
    )
  ).filter((r) => r.owner === r.node && visible.has(r.owner));
  if (rows.length === 0) return [];
  const published = new Set((await sql.all<{ id: string }>('SELECT device_id AS id FROM directory_devices')).map((r) => r.id));
  const out: DeviceReplacement[] = [];
  for (const r of rows) {
    const replaces = parseIdList(r.replaces).filter((id) => !published.has(id));
    if (replaces.length) out.push({ device_id: r.deviceId, replaces });
  }
  return out;
}
