// A list of devices with their identity keys, as a group's members and a person's roster both carry it: checked
// the same way (ids valid and unique, keys 32 bytes, a bounded count, sorted by id) and signed over the same
// bytes, so a rule fixed in one is fixed in both.

import { lp } from './e2ee/envelope.js';
import { DeviceId } from './e2ee/schema.js';
import { concatBytes, fromBase64Url, u32be } from './encoding.js';

export interface DeviceKeyEntry {
  device_id: string;
  /** base64url X25519 identity key (the key its pairwise sessions are under). */
  identity_key: string;
}

export const byDeviceId = (a: DeviceKeyEntry, b: DeviceKeyEntry) => (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0);

/** Why a list was refused: none in it, more than the bound, or an entry (its index; -1: listed twice). */
export type DeviceListFault = { kind: 'empty' } | { kind: 'too_many' } | { kind: 'entry'; message: string };

/** A 32-byte key as base64url, or undefined. */
export function key32(text: unknown): Uint8Array | undefined {
  try {
    const key = fromBase64Url(String(text));
    return key.length === 32 ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The list checked: 1..`max` entries, ids valid and unique, keys 32 bytes; copies of the entries (no other
 * field), sorted by id. A refusal is the error `refuse` makes of the fault (`label` names the list in it).
 */
export function checkDeviceList(list: unknown, max: number, label: string, refuse: (fault: DeviceListFault) => Error): DeviceKeyEntry[] {
  if (!Array.isArray(list) || list.length === 0) throw refuse({ kind: 'empty' });
  if (list.length > max) throw refuse({ kind: 'too_many' });
  const out = list.map((d: DeviceKeyEntry, i) => {
    if (!d || !DeviceId.safeParse(d.device_id).success) throw refuse({ kind: 'entry', message: `${label}[${i}]: not a device id` });
    if (!key32(d.identity_key)) throw refuse({ kind: 'entry', message: `${label}[${i}]: identity_key is not 32 bytes` });
    return { device_id: d.device_id, identity_key: d.identity_key };
  });
  out.sort(byDeviceId);
  for (let i = 1; i < out.length; i++)
    if (out[i - 1]!.device_id === out[i]!.device_id) throw refuse({ kind: 'entry', message: `${out[i]!.device_id} is listed twice` });
  return out;
}

/** The list as signed bytes: its count, then each id and key length-prefixed, sorted by id. */
export function deviceListBytes(list: readonly DeviceKeyEntry[]): Uint8Array {
  const sorted = [...list].sort(byDeviceId);
  return concatBytes([u32be(sorted.length), ...sorted.flatMap((d) => [lp(d.device_id), lp(d.identity_key)])]);
}
