// A contact's safety number: what two households compare to know the cloud shows each of them the other's real
// desktops. Each party is a household: its account id (the stable id) and the keys of its desktops (node ids are
// base64url X25519 keys) as the cloud lists them, sorted (safety-number.ts takes a key list). A desktop the cloud
// adds to a household, or leaves out, in one side's view changes that side's number: comparing them catches it.
// Device keys are not in it (they change with every phone paired): the key log's owner check covers those
// (docs/key-transparency.md).
import { fromBase64Url } from '../../../../shared/encoding.js';
import { type SafetyNumber, safetyNumber } from '../../../../shared/ratchet/safety-number.js';

export interface HouseholdIdentity {
  accountId: string;
  /** base64url X25519 keys of its desktops. */
  nodeKeys: readonly string[];
}

/** The trust book's id of a contact household. */
export const contactTrustId = (accountId: string) => `contact:${accountId}`;

/** What the trust book keeps for a household: its desktops' keys, sorted, in one string. */
export function householdTrustKey(nodeKeys: readonly string[]): string {
  return [...nodeKeys].sort().join(',');
}

function keysOf(h: HouseholdIdentity): Uint8Array[] | undefined {
  if (h.nodeKeys.length === 0) return undefined;
  try {
    const keys = h.nodeKeys.map(fromBase64Url);
    return keys.every((k) => k.length === 32) ? keys : undefined;
  } catch {
    return undefined;
  }
}

/** Our household's safety number with a contact; undefined while either side lists no (or a malformed) desktop. */
export function householdSafetyNumber(ours: HouseholdIdentity, theirs: HouseholdIdentity): SafetyNumber | undefined {
  const a = keysOf(ours);
  const b = keysOf(theirs);
  if (!a || !b) return undefined;
  return safetyNumber(
    { identityKey: a, stableId: `account:${ours.accountId}` },
    { identityKey: b, stableId: `account:${theirs.accountId}` },
  );
}
