// prekey_signed, prekey_kem_last_resort, prekey_one_time, prekey_kem_one_time, prekey_ids_taken: the PQXDH prekeys
// of the devices this node serves, as rows. Every change is one better-sqlite3 transaction (synchronous = FULL, so
// a commit is on disk when it returns): a claim deletes the keys it hands out and records their ids in the same
// commit, so neither a crash nor a second connection can hand one out twice. Signatures are checked before
// anything gets here (prekeys/prekey-store.ts); this file knows ids, states and limits.
import { createHash } from 'node:crypto';
import { and, asc, count, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import type { KemPrekeyWire, OneTimePrekeyWire, PublishPrekeysRequest, SignedPrekeyWire } from '../../../shared/wire/prekeys.js';
import { PrekeyError } from '../prekeys/prekey-error.js';
import type { Db } from './open-database.js';
import { prekeyIdsTaken, prekeyKemLastResort, prekeyKemOneTime, prekeyOneTime, prekeySigned } from './schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** The namespaces a device looks its private keys up in: one-time and last-resort KEM prekeys share 'kem'. */
export type PrekeyIdKind = (typeof prekeyIdsTaken.$inferSelect)['kind'];

export interface StoredSignedPrekey {
  id: number;
  public: string;
  signature: string;
  /** Unix ms. */
  publishedAt: number;
}

export interface StoredKemPrekey {
  id: number;
  public: string;
  signature: string;
}

export interface PrekeyCounts {
  signed: StoredSignedPrekey | undefined;
  lastResort: StoredKemPrekey | undefined;
  /** One-time prekeys stored here, 'home' and 'moving' alike (both count against the limit). */
  oneTimeStored: number;
  kemOneTimeStored: number;
}

/** What one claim took: the newest signed prekey, a one-time KEM prekey or the last-resort one, maybe a one-time X25519 prekey. */
export interface ClaimedPrekeys {
  signed: StoredSignedPrekey;
  kem: StoredKemPrekey & { lastResort: boolean };
  oneTime: OneTimePrekeyWire | undefined;
}

export interface MovingPrekeys {
  oneTime: OneTimePrekeyWire[];
  kemOneTime: StoredKemPrekey[];
}

export interface MovedIds {
  oneTime: readonly number[];
  kemOneTime: readonly number[];
}

function publicSha256(publicKey: string): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

function taken(kind: PrekeyIdKind, id: number, message: string): PrekeyError {
  return new PrekeyError('prekey_id_taken', message, { kind, id });
}

export class PrekeyRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores a publish whose signatures were checked, in one commit: the signed prekey and the last-resort KEM
   * prekey replace the ones before (which stay known by id), the one-time prekeys are added. A key already stored
   * or handed out under the same id with the same public key is accepted and left as it is (a retried publish);
   * under another key the whole publish is refused (prekey_id_taken), as it is when a kind would end up with
   * more than `maxOneTimeStored` one-time prekeys (prekey_limit). A refusal stores nothing.
   */
  publish(deviceId: string, request: PublishPrekeysRequest, now: number, maxOneTimeStored: number): void {
    this.db.transaction(
      (tx) => {
        this.putSigned(tx, deviceId, request.signed_prekey, now);
        this.putLastResort(tx, deviceId, request.kem_last_resort, now);
        for (const k of request.one_time_prekeys) this.putOneTime(tx, deviceId, k);
        for (const k of request.kem_one_time_prekeys) this.putKemOneTime(tx, deviceId, k);
        const oneTime = this.countOf(tx, deviceId, 'one_time');
        const kemOneTime = this.countOf(tx, deviceId, 'kem');
        if (oneTime > maxOneTimeStored || kemOneTime > maxOneTimeStored) {
          const kind = oneTime > maxOneTimeStored ? 'one-time' : 'one-time KEM';
          throw new PrekeyError('prekey_limit', `at most ${maxOneTimeStored} ${kind} prekeys can be stored here`, {
            limit: maxOneTimeStored,
          });
        }
      },
      { behavior: 'immediate' },
    );
  }

  /** Everything stored of the device (its prekeys and the ids it used): it is back under another identity key. */
  forgetDevice(deviceId: string): void {
    this.db.transaction(
      (tx) => {
        for (const table of [prekeySigned, prekeyKemLastResort, prekeyOneTime, prekeyKemOneTime, prekeyIdsTaken]) {
          tx.delete(table).where(eq(table.deviceId, deviceId)).run();
        }
      },
      { behavior: 'immediate' },
    );
  }

  counts(deviceId: string): PrekeyCounts {
    return this.db.transaction((tx) => ({
      signed: this.currentSigned(tx, deviceId),
      lastResort: this.lastResort(tx, deviceId),
      oneTimeStored: this.countOf(tx, deviceId, 'one_time'),
      kemOneTimeStored: this.countOf(tx, deviceId, 'kem'),
    }));
  }

  /** One 'home' one-time prekey of each kind (the lowest ids), removed and recorded in this commit; undefined: nothing published. */
  claim(deviceId: string, now: number): ClaimedPrekeys | undefined {
    return this.db.transaction(
      (tx) => {
        const signed = this.currentSigned(tx, deviceId);
        const lastResort = this.lastResort(tx, deviceId);
        if (!signed || !lastResort) return undefined;
        const oneTime = tx
          .select({ id: prekeyOneTime.id, public: prekeyOneTime.public })
          .from(prekeyOneTime)
          .where(and(eq(prekeyOneTime.deviceId, deviceId), eq(prekeyOneTime.state, 'home')))
          .orderBy(asc(prekeyOneTime.id))
          .limit(1)
          .get();
        const kemOneTime = tx
          .select({ id: prekeyKemOneTime.id, public: prekeyKemOneTime.public, signature: prekeyKemOneTime.signature })
          .from(prekeyKemOneTime)
          .where(and(eq(prekeyKemOneTime.deviceId, deviceId), eq(prekeyKemOneTime.state, 'home')))
          .orderBy(asc(prekeyKemOneTime.id))
          .limit(1)
          .get();
        if (oneTime) this.removeOneTime(tx, deviceId, [oneTime], now);
        if (kemOneTime) this.removeKemOneTime(tx, deviceId, [kemOneTime], now);
        return {
          signed,
          kem: kemOneTime ? { ...kemOneTime, lastResort: false } : { ...lastResort, lastResort: true },
          oneTime,
        };
      },
      { behavior: 'immediate' },
    );
  }

  /**
   * Returns the device's 'moving' one-time prekeys of each kind, first marking 'home' ones (lowest ids first)
   * 'moving' until there are up to `limit` of a kind. Those marked before come back too: a move cut off by a
   * restart is sent again (the cloud takes the same keys again) rather than left in between.
   */
  takeMoving(deviceId: string, limit: number): MovingPrekeys {
    return this.db.transaction(
      (tx) => {
        const before = this.moving(tx, deviceId);
        const want = Math.max(0, Math.floor(limit));
        const oneTime = tx
          .select({ id: prekeyOneTime.id })
          .from(prekeyOneTime)
          .where(and(eq(prekeyOneTime.deviceId, deviceId), eq(prekeyOneTime.state, 'home')))
          .orderBy(asc(prekeyOneTime.id))
          .limit(Math.max(0, want - before.oneTime.length))
          .all()
          .map((r) => r.id);
        const kemOneTime = tx
          .select({ id: prekeyKemOneTime.id })
          .from(prekeyKemOneTime)
          .where(and(eq(prekeyKemOneTime.deviceId, deviceId), eq(prekeyKemOneTime.state, 'home')))
          .orderBy(asc(prekeyKemOneTime.id))
          .limit(Math.max(0, want - before.kemOneTime.length))
          .all()
          .map((r) => r.id);
        if (oneTime.length > 0)
          tx.update(prekeyOneTime)
            .set({ state: 'moving' })
            .where(and(eq(prekeyOneTime.deviceId, deviceId), inArray(prekeyOneTime.id, oneTime)))
            .run();
        if (kemOneTime.length > 0)
          tx.update(prekeyKemOneTime)
            .set({ state: 'moving' })
            .where(and(eq(prekeyKemOneTime.deviceId, deviceId), inArray(prekeyKemOneTime.id, kemOneTime)))
            .run();
        return this.moving(tx, deviceId);
      },
      { behavior: 'immediate' },
    );
  }

  /** The cloud holds these now: they go from here (recorded, so they are never stored here again). Only 'moving' rows are touched. */
  confirmMoved(deviceId: string, ids: MovedIds, now: number): void {
    this.db.transaction(
      (tx) => {
        const moving = this.moving(tx, deviceId);
        const oneTime = new Set(ids.oneTime);
        const kemOneTime = new Set(ids.kemOneTime);
        this.removeOneTime(
          tx,
          deviceId,
          moving.oneTime.filter((k) => oneTime.has(k.id)),
          now,
        );
        this.removeKemOneTime(
          tx,
          deviceId,
          moving.kemOneTime.filter((k) => kemOneTime.has(k.id)),
          now,
        );
      },
      { behavior: 'immediate' },
    );
  }

  /** Every 'moving' one-time prekey of the device back to 'home'; returns how many. */
  revertMoving(deviceId: string): number {
    return this.db.transaction(
      (tx) => {
        const a = tx
          .update(prekeyOneTime)
          .set({ state: 'home' })
          .where(and(eq(prekeyOneTime.deviceId, deviceId), eq(prekeyOneTime.state, 'moving')))
          .run();
        const b = tx
          .update(prekeyKemOneTime)
          .set({ state: 'home' })
          .where(and(eq(prekeyKemOneTime.deviceId, deviceId), eq(prekeyKemOneTime.state, 'moving')))
          .run();
        return a.changes + b.changes;
      },
      { behavior: 'immediate' },
    );
  }

  // ---- inside a transaction ---------------------------------------------------------------------------------

  private currentSigned(tx: Tx, deviceId: string): StoredSignedPrekey | undefined {
    return tx
      .select({
        id: prekeySigned.id,
        public: prekeySigned.public,
        signature: prekeySigned.signature,
        publishedAt: prekeySigned.publishedAt,
      })
      .from(prekeySigned)
      .where(and(eq(prekeySigned.deviceId, deviceId), isNull(prekeySigned.retiredAt)))
      .get();
  }

  private lastResort(tx: Tx, deviceId: string): StoredKemPrekey | undefined {
    return tx
      .select({ id: prekeyKemLastResort.id, public: prekeyKemLastResort.public, signature: prekeyKemLastResort.signature })
      .from(prekeyKemLastResort)
      .where(eq(prekeyKemLastResort.deviceId, deviceId))
      .get();
  }

  private countOf(tx: Tx, deviceId: string, kind: 'one_time' | 'kem'): number {
    const table = kind === 'one_time' ? prekeyOneTime : prekeyKemOneTime;
    return tx.select({ n: count() }).from(table).where(eq(table.deviceId, deviceId)).get()?.n ?? 0;
  }

  private moving(tx: Tx, deviceId: string): MovingPrekeys {
    return {
      oneTime: tx
        .select({ id: prekeyOneTime.id, public: prekeyOneTime.public })
        .from(prekeyOneTime)
        .where(and(eq(prekeyOneTime.deviceId, deviceId), eq(prekeyOneTime.state, 'moving')))
        .orderBy(asc(prekeyOneTime.id))
        .all(),
      kemOneTime: tx
        .select({ id: prekeyKemOneTime.id, public: prekeyKemOneTime.public, signature: prekeyKemOneTime.signature })
        .from(prekeyKemOneTime)
        .where(and(eq(prekeyKemOneTime.deviceId, deviceId), eq(prekeyKemOneTime.state, 'moving')))
        .orderBy(asc(prekeyKemOneTime.id))
        .all(),
    };
  }

  /**
   * Whether (kind, id) is already known as no longer stored here: false if never; true if it was, with this very
   * public key (a retry: nothing to do); throws prekey_id_taken if it was with another.
   */
  private wasTaken(tx: Tx, deviceId: string, kind: PrekeyIdKind, id: number, publicKey: string): boolean {
    const row = tx
      .select({ publicSha256: prekeyIdsTaken.publicSha256 })
      .from(prekeyIdsTaken)
      .where(and(eq(prekeyIdsTaken.deviceId, deviceId), eq(prekeyIdsTaken.kind, kind), eq(prekeyIdsTaken.id, id)))
      .get();
    if (!row) return false;
    if (row.publicSha256 === publicSha256(publicKey)) return true;
    throw taken(kind, id, `prekey id ${id} was used before for another key`);
  }

  private recordTaken(tx: Tx, deviceId: string, kind: PrekeyIdKind, keys: readonly { id: number; public: string }[], now: number): void {
    for (const k of keys) {
      tx.insert(prekeyIdsTaken)
        .values({ deviceId, kind, id: k.id, publicSha256: publicSha256(k.public), takenAt: now })
        .onConflictDoNothing()
        .run();
    }
  }

  private putSigned(tx: Tx, deviceId: string, spk: SignedPrekeyWire, now: number): void {
    const stored = tx
      .select({ public: prekeySigned.public })
      .from(prekeySigned)
      .where(and(eq(prekeySigned.deviceId, deviceId), eq(prekeySigned.id, spk.id)))
      .get();
    if (stored) {
      // The current one again, or a late retry of the one it replaced: either way nothing changes.
      if (stored.public === spk.public) return;
      throw taken('signed', spk.id, `signed prekey id ${spk.id} is stored here with another key`);
    }
    if (this.wasTaken(tx, deviceId, 'signed', spk.id, spk.public)) return;
    // Rotation: the current one is retired, and the one retired before it is forgotten but for its id.
    const retired = tx
      .select({ id: prekeySigned.id, public: prekeySigned.public })
      .from(prekeySigned)
      .where(and(eq(prekeySigned.deviceId, deviceId), isNotNull(prekeySigned.retiredAt)))
      .all();
    this.recordTaken(tx, deviceId, 'signed', retired, now);
    tx.delete(prekeySigned)
      .where(and(eq(prekeySigned.deviceId, deviceId), isNotNull(prekeySigned.retiredAt)))
      .run();
    tx.update(prekeySigned)
      .set({ retiredAt: now })
      .where(and(eq(prekeySigned.deviceId, deviceId), isNull(prekeySigned.retiredAt)))
      .run();
    tx.insert(prekeySigned).values({ deviceId, id: spk.id, public: spk.public, signature: spk.signature, publishedAt: now }).run();
  }

  private putLastResort(tx: Tx, deviceId: string, kem: KemPrekeyWire, now: number): void {
    const current = this.lastResort(tx, deviceId);
    if (current?.id === kem.id) {
      if (current.public === kem.public) return;
      throw taken('kem', kem.id, `last-resort KEM prekey id ${kem.id} is stored here with another key`);
    }
    this.refuseStoredKemOneTime(tx, deviceId, kem.id);
    if (this.wasTaken(tx, deviceId, 'kem', kem.id, kem.public)) return;
    if (current) this.recordTaken(tx, deviceId, 'kem', [current], now);
    tx.insert(prekeyKemLastResort)
      .values({ deviceId, id: kem.id, public: kem.public, signature: kem.signature, publishedAt: now })
      .onConflictDoUpdate({
        target: prekeyKemLastResort.deviceId,
        set: { id: kem.id, public: kem.public, signature: kem.signature, publishedAt: now },
      })
      .run();
  }

  /** A KEM id names one key: a last-resort prekey may not take the id of a one-time KEM prekey stored here. */
  private refuseStoredKemOneTime(tx: Tx, deviceId: string, id: number): void {
    const row = tx
      .select({ id: prekeyKemOneTime.id })
      .from(prekeyKemOneTime)
      .where(and(eq(prekeyKemOneTime.deviceId, deviceId), eq(prekeyKemOneTime.id, id)))
      .get();
    if (row) throw taken('kem', id, `KEM prekey id ${id} is stored here as a one-time KEM prekey`);
  }

  private putOneTime(tx: Tx, deviceId: string, k: OneTimePrekeyWire): void {
    const stored = tx
      .select({ public: prekeyOneTime.public })
      .from(prekeyOneTime)
      .where(and(eq(prekeyOneTime.deviceId, deviceId), eq(prekeyOneTime.id, k.id)))
      .get();
    if (stored) {
      if (stored.public === k.public) return;
      throw taken('one_time', k.id, `one-time prekey id ${k.id} is stored here with another key`);
    }
    if (this.wasTaken(tx, deviceId, 'one_time', k.id, k.public)) return;
    tx.insert(prekeyOneTime).values({ deviceId, id: k.id, public: k.public, state: 'home' }).run();
  }

  private putKemOneTime(tx: Tx, deviceId: string, k: KemPrekeyWire): void {
    const stored = tx
      .select({ public: prekeyKemOneTime.public })
      .from(prekeyKemOneTime)
      .where(and(eq(prekeyKemOneTime.deviceId, deviceId), eq(prekeyKemOneTime.id, k.id)))
      .get();
    if (stored) {
      if (stored.public === k.public) return;
      throw taken('kem', k.id, `one-time KEM prekey id ${k.id} is stored here with another key`);
    }
    if (this.lastResort(tx, deviceId)?.id === k.id) {
      throw taken('kem', k.id, `KEM prekey id ${k.id} is this device's last-resort KEM prekey`);
    }
    if (this.wasTaken(tx, deviceId, 'kem', k.id, k.public)) return;
    tx.insert(prekeyKemOneTime).values({ deviceId, id: k.id, public: k.public, signature: k.signature, state: 'home' }).run();
  }

  private removeOneTime(tx: Tx, deviceId: string, keys: readonly OneTimePrekeyWire[], now: number): void {
    if (keys.length === 0) return;
    this.recordTaken(tx, deviceId, 'one_time', keys, now);
    tx.delete(prekeyOneTime)
      .where(
        and(
          eq(prekeyOneTime.deviceId, deviceId),
          inArray(
            prekeyOneTime.id,
            keys.map((k) => k.id),
          ),
        ),
      )
      .run();
  }

  private removeKemOneTime(tx: Tx, deviceId: string, keys: readonly StoredKemPrekey[], now: number): void {
    if (keys.length === 0) return;
    this.recordTaken(tx, deviceId, 'kem', keys, now);
    tx.delete(prekeyKemOneTime)
      .where(
        and(
          eq(prekeyKemOneTime.deviceId, deviceId),
          inArray(
            prekeyKemOneTime.id,
            keys.map((k) => k.id),
          ),
        ),
      )
      .run();
  }
}
