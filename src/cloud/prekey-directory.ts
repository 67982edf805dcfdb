// The cloud's prekey directory (docs/e2ee.md "Prekeys and the directory"): the PQXDH prekeys of key-directory
// devices, for initiators of other homes. Only the node that publishes a device in the key directory may publish
// its prekeys, and every signature is checked against that entry's public key (shared/ratchet/
// prekey-publish-check.ts) before a row is written. The semantics are the node's own store's
// (main/core/db/prekey-repository.ts): a claim deletes the one-time prekeys it hands out and records their ids in
// the same committed transaction, so neither a crash nor a second request can hand one out twice; an id once
// handed out or replaced is never stored again; the very same key again is a retry and accepted.
import { createHash } from 'node:crypto';
import { and, asc, count, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import { fromBase64Url } from '../shared/encoding.js';
import { checkPublishRequest } from '../shared/ratchet/prekey-publish-check.js';
import {
  type KemPrekeyWire,
  MAX_ONE_TIME_STORED,
  type OneTimePrekeyWire,
  type PrekeyBundle,
  type PrekeyStatus,
  type SignedPrekeyWire,
} from '../shared/wire/prekeys.js';
import type { CloudDb } from './db/open.js';
import {
  cloudPrekeyIdsTaken,
  cloudPrekeyKemLastResort,
  cloudPrekeyKemOneTime,
  cloudPrekeyOneTime,
  cloudPrekeySigned,
  directoryDevices,
} from './db/schema.js';
import { CloudError } from './errors.js';

export type CloudTx = Parameters<Parameters<CloudDb['transaction']>[0]>[0];
type IdKind = (typeof cloudPrekeyIdsTaken.$inferSelect)['kind'];

const publicSha256 = (publicKey: string) => createHash('sha256').update(publicKey).digest('hex');
const taken = (message: string) => new CloudError(409, 'prekey_id_taken', message);

function identityKeyBytes(b64url: string): Uint8Array {
  try {
    return fromBase64Url(b64url);
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * Drops every stored prekey of these devices (they left the key directory, or their key changed, so what they
 * signed no longer verifies). Their taken ids stay: an id handed out is never stored again, even for a device
 * that comes back. Called inside the key directory's own publish transaction.
 */
export function dropPrekeysOf(tx: CloudTx, deviceIds: readonly string[]): void {
  if (deviceIds.length === 0) return;
  for (const table of [cloudPrekeySigned, cloudPrekeyKemLastResort, cloudPrekeyOneTime, cloudPrekeyKemOneTime]) {
    tx.delete(table)
      .where(inArray(table.deviceId, [...deviceIds]))
      .run();
  }
}

export class CloudPrekeyDirectory {
  constructor(
    private readonly db: CloudDb,
    private readonly now: () => number = Date.now,
    private readonly maxOneTimeStored = MAX_ONE_TIME_STORED,
  ) {}

  /**
   * Stores `node`'s publish for its device, all of it or nothing. 404 unknown_recipient: no such device in the
   * key directory; 403 forbidden: another node publishes it; 400 invalid_prekey; 409 prekey_id_taken / prekey_limit.
   */
  publish(node: string, deviceId: string, input: unknown): PrekeyStatus {
    const at = new Date(this.now()).toISOString();
    return this.db.transaction(
      (tx) => {
        const entry = this.entry(tx, deviceId);
        if (!entry) throw new CloudError(404, 'unknown_recipient', `No device ${deviceId} is in the key directory.`);
        if (entry.node !== node) throw new CloudError(403, 'forbidden', `Device ${deviceId} is published by another node.`);
        const checked = checkPublishRequest(identityKeyBytes(entry.publicKey), input);
        if (!checked.ok) throw new CloudError(400, 'invalid_prekey', checked.reason);
        const r = checked.request;
        this.putSigned(tx, deviceId, r.signed_prekey, at);
        this.putLastResort(tx, deviceId, r.kem_last_resort, at);
        for (const k of r.one_time_prekeys) this.putOneTime(tx, deviceId, k);
        for (const k of r.kem_one_time_prekeys) this.putKemOneTime(tx, deviceId, k);
        const s = this.statusIn(tx, deviceId);
        if (s.one_time_left > this.maxOneTimeStored || s.kem_one_time_left > this.maxOneTimeStored) {
          const kind = s.one_time_left > this.maxOneTimeStored ? 'one-time' : 'one-time KEM';
          // Thrown inside the transaction: the whole publish is rolled back.
          throw new CloudError(409, 'prekey_limit', `At most ${this.maxOneTimeStored} ${kind} prekeys of a device can be stored here.`);
        }
        return s;
      },
      { behavior: 'immediate' },
    );
  }

  /** What `node`'s device has stored here (404 / 403 as publish). */
  status(node: string, deviceId: string): PrekeyStatus {
    return this.db.transaction((tx) => {
      const entry = this.entry(tx, deviceId);
      if (!entry) throw new CloudError(404, 'unknown_recipient', `No device ${deviceId} is in the key directory.`);
      if (entry.node !== node) throw new CloudError(403, 'forbidden', `Device ${deviceId} is published by another node.`);
      return this.statusIn(tx, deviceId);
    });
  }

  /**
   * A bundle for one initiator: the lowest-id one-time X25519 and one-time KEM prekeys, deleted and recorded in
   * this very commit; with none left, no one-time X25519 prekey and the last-resort KEM prekey.
   * 404 unknown_recipient (not in the directory, or published by a node `mayClaim` says the caller may not see:
   * the same answer, so a claim tells a stranger nothing) or no_prekeys (nothing published).
   */
  claim(deviceId: string, mayClaim: (owner: string) => boolean = () => true): PrekeyBundle {
    const at = new Date(this.now()).toISOString();
    return this.db.transaction(
      (tx) => {
        const entry = this.entry(tx, deviceId);
        if (!entry || !mayClaim(entry.node))
          throw new CloudError(404, 'unknown_recipient', `No device ${deviceId} is in the key directory.`);
        const signed = this.currentSigned(tx, deviceId);
        const lastResort = this.lastResort(tx, deviceId);
        if (!signed || !lastResort) throw new CloudError(404, 'no_prekeys', `Device ${deviceId} has published no prekeys here.`);
        const oneTime = tx
          .select({ id: cloudPrekeyOneTime.id, public: cloudPrekeyOneTime.public })
          .from(cloudPrekeyOneTime)
          .where(eq(cloudPrekeyOneTime.deviceId, deviceId))
          .orderBy(asc(cloudPrekeyOneTime.id))
          .limit(1)
          .get();
        const kemOneTime = tx
          .select({ id: cloudPrekeyKemOneTime.id, public: cloudPrekeyKemOneTime.public, signature: cloudPrekeyKemOneTime.signature })
          .from(cloudPrekeyKemOneTime)
          .where(eq(cloudPrekeyKemOneTime.deviceId, deviceId))
          .orderBy(asc(cloudPrekeyKemOneTime.id))
          .limit(1)
          .get();
        if (oneTime) {
          this.recordTaken(tx, deviceId, 'one_time', [oneTime], at);
          tx.delete(cloudPrekeyOneTime)
            .where(and(eq(cloudPrekeyOneTime.deviceId, deviceId), eq(cloudPrekeyOneTime.id, oneTime.id)))
            .run();
        }
        if (kemOneTime) {
          this.recordTaken(tx, deviceId, 'kem', [kemOneTime], at);
          tx.delete(cloudPrekeyKemOneTime)
            .where(and(eq(cloudPrekeyKemOneTime.deviceId, deviceId), eq(cloudPrekeyKemOneTime.id, kemOneTime.id)))
            .run();
        }
        const kem = kemOneTime ?? lastResort;
        return {
          identity_key: entry.publicKey,
          signed_prekey: { id: signed.id, public: signed.public, signature: signed.signature },
          kem_prekey: { id: kem.id, public: kem.public, signature: kem.signature, last_resort: !kemOneTime },
          ...(oneTime ? { one_time_prekey: { id: oneTime.id, public: oneTime.public } } : {}),
        };
      },
      { behavior: 'immediate' },
    );
  }

  // ---- inside a transaction ---------------------------------------------------------------------------------

  private entry(tx: CloudTx, deviceId: string) {
    return tx
      .select({ node: directoryDevices.node, publicKey: directoryDevices.publicKey })
      .from(directoryDevices)
      .where(eq(directoryDevices.deviceId, deviceId))
      .get();
  }

  private statusIn(tx: CloudTx, deviceId: string): PrekeyStatus {
    const signed = this.currentSigned(tx, deviceId);
    const n = (table: typeof cloudPrekeyOneTime | typeof cloudPrekeyKemOneTime) =>
      tx.select({ n: count() }).from(table).where(eq(table.deviceId, deviceId)).get()?.n ?? 0;
    return {
      signed_prekey_id: signed?.id ?? null,
      signed_prekey_at: signed?.publishedAt ?? null,
      kem_last_resort_id: this.lastResort(tx, deviceId)?.id ?? null,
      one_time_left: n(cloudPrekeyOneTime),
      kem_one_time_left: n(cloudPrekeyKemOneTime),
    };
  }

  private currentSigned(tx: CloudTx, deviceId: string) {
    return tx
      .select({
        id: cloudPrekeySigned.id,
        public: cloudPrekeySigned.public,
        signature: cloudPrekeySigned.signature,
        publishedAt: cloudPrekeySigned.publishedAt,
      })
      .from(cloudPrekeySigned)
      .where(and(eq(cloudPrekeySigned.deviceId, deviceId), isNull(cloudPrekeySigned.retiredAt)))
      .get();
  }

  private lastResort(tx: CloudTx, deviceId: string) {
    return tx
      .select({ id: cloudPrekeyKemLastResort.id, public: cloudPrekeyKemLastResort.public, signature: cloudPrekeyKemLastResort.signature })
      .from(cloudPrekeyKemLastResort)
      .where(eq(cloudPrekeyKemLastResort.deviceId, deviceId))
      .get();
  }

  /** false: the id was never taken; true: it was, for this very key (a retry, nothing to do); else 409. */
  private wasTaken(tx: CloudTx, deviceId: string, kind: IdKind, id: number, publicKey: string): boolean {
    const row = tx
      .select({ publicSha256: cloudPrekeyIdsTaken.publicSha256 })
      .from(cloudPrekeyIdsTaken)
      .where(and(eq(cloudPrekeyIdsTaken.deviceId, deviceId), eq(cloudPrekeyIdsTaken.kind, kind), eq(cloudPrekeyIdsTaken.id, id)))
      .get();
    if (!row) return false;
    if (row.publicSha256 === publicSha256(publicKey)) return true;
    throw taken(`Prekey id ${id} was used before for another key.`);
  }

  private recordTaken(tx: CloudTx, deviceId: string, kind: IdKind, keys: readonly { id: number; public: string }[], at: string): void {
    for (const k of keys) {
      tx.insert(cloudPrekeyIdsTaken)
        .values({ deviceId, kind, id: k.id, publicSha256: publicSha256(k.public), takenAt: at })
        .onConflictDoNothing()
        .run();
    }
  }

  private putSigned(tx: CloudTx, deviceId: string, spk: SignedPrekeyWire, at: string): void {
    const stored = tx
      .select({ public: cloudPrekeySigned.public })
      .from(cloudPrekeySigned)
      .where(and(eq(cloudPrekeySigned.deviceId, deviceId), eq(cloudPrekeySigned.id, spk.id)))
      .get();
    if (stored) {
      // The current one again, or a late retry of the one it replaced: either way nothing changes.
      if (stored.public === spk.public) return;
      throw taken(`Signed prekey id ${spk.id} is stored here with another key.`);
    }
    if (this.wasTaken(tx, deviceId, 'signed', spk.id, spk.public)) return;
    // Rotation: the current one is retired, and the one retired before it is forgotten but for its id.
    const retired = tx
      .select({ id: cloudPrekeySigned.id, public: cloudPrekeySigned.public })
      .from(cloudPrekeySigned)
      .where(and(eq(cloudPrekeySigned.deviceId, deviceId), isNotNull(cloudPrekeySigned.retiredAt)))
      .all();
    this.recordTaken(tx, deviceId, 'signed', retired, at);
    tx.delete(cloudPrekeySigned)
      .where(and(eq(cloudPrekeySigned.deviceId, deviceId), isNotNull(cloudPrekeySigned.retiredAt)))
      .run();
    tx.update(cloudPrekeySigned)
      .set({ retiredAt: at })
      .where(and(eq(cloudPrekeySigned.deviceId, deviceId), isNull(cloudPrekeySigned.retiredAt)))
      .run();
    tx.insert(cloudPrekeySigned).values({ deviceId, id: spk.id, public: spk.public, signature: spk.signature, publishedAt: at }).run();
  }

  private putLastResort(tx: CloudTx, deviceId: string, kem: KemPrekeyWire, at: string): void {
    const current = this.lastResort(tx, deviceId);
    if (current?.id === kem.id) {
      if (current.public === kem.public) return;
      throw taken(`Last-resort KEM prekey id ${kem.id} is stored here with another key.`);
    }
    const oneTime = tx
      .select({ id: cloudPrekeyKemOneTime.id })
      .from(cloudPrekeyKemOneTime)
      .where(and(eq(cloudPrekeyKemOneTime.deviceId, deviceId), eq(cloudPrekeyKemOneTime.id, kem.id)))
      .get();
    if (oneTime) throw taken(`KEM prekey id ${kem.id} is stored here as a one-time KEM prekey.`);
    if (this.wasTaken(tx, deviceId, 'kem', kem.id, kem.public)) return;
    if (current) this.recordTaken(tx, deviceId, 'kem', [current], at);
    tx.insert(cloudPrekeyKemLastResort)
      .values({ deviceId, id: kem.id, public: kem.public, signature: kem.signature, publishedAt: at })
      .onConflictDoUpdate({
        target: cloudPrekeyKemLastResort.deviceId,
        set: { id: kem.id, public: kem.public, signature: kem.signature, publishedAt: at },
      })
      .run();
  }

  private putOneTime(tx: CloudTx, deviceId: string, k: OneTimePrekeyWire): void {
    const stored = tx
      .select({ public: cloudPrekeyOneTime.public })
      .from(cloudPrekeyOneTime)
      .where(and(eq(cloudPrekeyOneTime.deviceId, deviceId), eq(cloudPrekeyOneTime.id, k.id)))
      .get();
    if (stored) {
      if (stored.public === k.public) return;
      throw taken(`One-time prekey id ${k.id} is stored here with another key.`);
    }
    if (this.wasTaken(tx, deviceId, 'one_time', k.id, k.public)) return;
    tx.insert(cloudPrekeyOneTime).values({ deviceId, id: k.id, public: k.public }).run();
  }

  private putKemOneTime(tx: CloudTx, deviceId: string, k: KemPrekeyWire): void {
    const stored = tx
      .select({ public: cloudPrekeyKemOneTime.public })
      .from(cloudPrekeyKemOneTime)
      .where(and(eq(cloudPrekeyKemOneTime.deviceId, deviceId), eq(cloudPrekeyKemOneTime.id, k.id)))
      .get();
    if (stored) {
      if (stored.public === k.public) return;
      throw taken(`One-time KEM prekey id ${k.id} is stored here with another key.`);
    }
    if (this.lastResort(tx, deviceId)?.id === k.id) throw taken(`KEM prekey id ${k.id} is this device's last-resort KEM prekey.`);
    if (this.wasTaken(tx, deviceId, 'kem', k.id, k.public)) return;
    tx.insert(cloudPrekeyKemOneTime).values({ deviceId, id: k.id, public: k.public, signature: k.signature }).run();
  }
}
