// The cloud's prekey directory (docs/e2ee.md "Prekeys and the directory"): the PQXDH prekeys of key-directory
// devices, for initiators of other homes. Only the node that publishes a device in the key directory may publish
// its prekeys, and every signature is checked against that entry's public key (shared/ratchet/
// prekey-publish-check.ts) before a row is written. The semantics are the node's own store's
// (main/core/db/prekey-repository.ts): a claim deletes the one-time prekeys it hands out and records their ids in
// the same committed transaction, so neither a crash nor a second request can hand one out twice; an id once
// handed out or replaced is never stored again; the very same key again is a retry and accepted.
import { createHash } from 'node:crypto';
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
import { type CloudSql, marks, type SqlTx } from './db/sql.js';
import { CloudError } from './errors.js';

type IdKind = 'signed' | 'one_time' | 'kem';
type Key = { id: number; public: string };
type SignedKey = Key & { signature: string };

const publicSha256 = (publicKey: string) => createHash('sha256').update(publicKey).digest('hex');
const taken = (message: string) => new CloudError(409, 'prekey_id_taken', message);

function identityKeyBytes(b64url: string): Uint8Array {
  try {
    return fromBase64Url(b64url);
  } catch {
    return new Uint8Array(0);
  }
}

const PREKEY_TABLES = ['cloud_prekey_signed', 'cloud_prekey_kem_last_resort', 'cloud_prekey_one_time', 'cloud_prekey_kem_one_time'];

/**
 * Drops every stored prekey of these devices (they left the key directory, or their key changed, so what they
 * signed no longer verifies). Their taken ids stay: an id handed out is never stored again, even for a device
 * that comes back. Called inside the key directory's own publish transaction.
 */
export async function dropPrekeysOf(tx: SqlTx, deviceIds: readonly string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  for (const table of PREKEY_TABLES) await tx.run(`DELETE FROM ${table} WHERE device_id IN (${marks(deviceIds.length)})`, deviceIds);
}

/** A device's prekeys change one transaction at a time (a claim and a publish on two instances included). */
const deviceLock = (deviceId: string) => `prekeys:${deviceId}`;

export class CloudPrekeyDirectory {
  constructor(
    private readonly sql: CloudSql,
    private readonly now: () => number = Date.now,
    private readonly maxOneTimeStored = MAX_ONE_TIME_STORED,
  ) {}

  /**
   * Stores `node`'s publish for its device, all of it or nothing. 404 unknown_recipient: no such device in the
   * key directory; 403 forbidden: another node publishes it; 400 invalid_prekey; 409 prekey_id_taken / prekey_limit.
   */
  publish(node: string, deviceId: string, input: unknown): Promise<PrekeyStatus> {
    const at = new Date(this.now()).toISOString();
    return this.sql.tx(async (tx) => {
      await tx.lock(deviceLock(deviceId));
      const entry = await this.entry(tx, deviceId);
      if (!entry) throw new CloudError(404, 'unknown_recipient', `No device ${deviceId} is in the key directory.`);
      if (entry.node !== node) throw new CloudError(403, 'forbidden', `Device ${deviceId} is published by another node.`);
      const checked = checkPublishRequest(identityKeyBytes(entry.publicKey), input);
      if (!checked.ok) throw new CloudError(400, 'invalid_prekey', checked.reason);
      const r = checked.request;
      await this.putSigned(tx, deviceId, r.signed_prekey, at);
      await this.putLastResort(tx, deviceId, r.kem_last_resort, at);
      for (const k of r.one_time_prekeys) await this.putOneTime(tx, deviceId, k);
      for (const k of r.kem_one_time_prekeys) await this.putKemOneTime(tx, deviceId, k);
      const s = await this.statusIn(tx, deviceId);
      if (s.one_time_left > this.maxOneTimeStored || s.kem_one_time_left > this.maxOneTimeStored) {
        const kind = s.one_time_left > this.maxOneTimeStored ? 'one-time' : 'one-time KEM';
        // Thrown inside the transaction: the whole publish is rolled back.
        throw new CloudError(409, 'prekey_limit', `At most ${this.maxOneTimeStored} ${kind} prekeys of a device can be stored here.`);
      }
      return s;
    });
  }

  /** What `node`'s device has stored here (404 / 403 as publish). */
  status(node: string, deviceId: string): Promise<PrekeyStatus> {
    return this.sql.tx(async (tx) => {
      const entry = await this.entry(tx, deviceId);
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
  claim(deviceId: string, mayClaim: (owner: string, tx: SqlTx) => Promise<boolean> = async () => true): Promise<PrekeyBundle> {
    const at = new Date(this.now()).toISOString();
    return this.sql.tx(async (tx) => {
      // Two claims at once (two instances) must not hand out the same one-time prekey.
      await tx.lock(deviceLock(deviceId));
      const entry = await this.entry(tx, deviceId);
      if (!entry || !(await mayClaim(entry.node, tx)))
        throw new CloudError(404, 'unknown_recipient', `No device ${deviceId} is in the key directory.`);
      const signed = await this.currentSigned(tx, deviceId);
      const lastResort = await this.lastResort(tx, deviceId);
      if (!signed || !lastResort) throw new CloudError(404, 'no_prekeys', `Device ${deviceId} has published no prekeys here.`);
      const oneTime = await tx.get<Key>('SELECT id, public FROM cloud_prekey_one_time WHERE device_id = ? ORDER BY id LIMIT 1', [deviceId]);
      const kemOneTime = await tx.get<SignedKey>(
        'SELECT id, public, signature FROM cloud_prekey_kem_one_time WHERE device_id = ? ORDER BY id LIMIT 1',
        [deviceId],
      );
      if (oneTime) {
        await this.recordTaken(tx, deviceId, 'one_time', [oneTime], at);
        await tx.run('DELETE FROM cloud_prekey_one_time WHERE device_id = ? AND id = ?', [deviceId, oneTime.id]);
      }
      if (kemOneTime) {
        await this.recordTaken(tx, deviceId, 'kem', [kemOneTime], at);
        await tx.run('DELETE FROM cloud_prekey_kem_one_time WHERE device_id = ? AND id = ?', [deviceId, kemOneTime.id]);
      }
      const kem = kemOneTime ?? lastResort;
      return {
        identity_key: entry.publicKey,
        signed_prekey: { id: signed.id, public: signed.public, signature: signed.signature },
        kem_prekey: { id: kem.id, public: kem.public, signature: kem.signature, last_resort: !kemOneTime },
        ...(oneTime ? { one_time_prekey: { id: oneTime.id, public: oneTime.public } } : {}),
      };
    });
  }

  // ---- inside a transaction ---------------------------------------------------------------------------------

  private entry(tx: SqlTx, deviceId: string) {
    return tx.get<{ node: string; publicKey: string }>(
      'SELECT node, public_key AS "publicKey" FROM directory_devices WHERE device_id = ?',
      [deviceId],
    );
  }

  private async statusIn(tx: SqlTx, deviceId: string): Promise<PrekeyStatus> {
    const signed = await this.currentSigned(tx, deviceId);
    const n = async (table: string) =>
      (await tx.get<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE device_id = ?`, [deviceId]))?.n ?? 0;
    return {
      signed_prekey_id: signed?.id ?? null,
      signed_prekey_at: signed?.publishedAt ?? null,
      kem_last_resort_id: (await this.lastResort(tx, deviceId))?.id ?? null,
      one_time_left: await n('cloud_prekey_one_time'),
      kem_one_time_left: await n('cloud_prekey_kem_one_time'),
    };
  }

  private currentSigned(tx: SqlTx, deviceId: string) {
    return tx.get<SignedKey & { publishedAt: string }>(
      'SELECT id, public, signature, published_at AS "publishedAt" FROM cloud_prekey_signed WHERE device_id = ? AND retired_at IS NULL',
      [deviceId],
    );
  }

  private lastResort(tx: SqlTx, deviceId: string) {
    return tx.get<SignedKey>('SELECT id, public, signature FROM cloud_prekey_kem_last_resort WHERE device_id = ?', [deviceId]);
  }

  /** false: the id was never taken; true: it was, for this very key (a retry, nothing to do); else 409. */
  private async wasTaken(tx: SqlTx, deviceId: string, kind: IdKind, id: number, publicKey: string): Promise<boolean> {
    const row = await tx.get<{ publicSha256: string }>(
      'SELECT public_sha256 AS "publicSha256" FROM cloud_prekey_ids_taken WHERE device_id = ? AND kind = ? AND id = ?',
      [deviceId, kind, id],
    );
    if (!row) return false;
    if (row.publicSha256 === publicSha256(publicKey)) return true;
    throw taken(`Prekey id ${id} was used before for another key.`);
  }

  private async recordTaken(tx: SqlTx, deviceId: string, kind: IdKind, keys: readonly Key[], at: string): Promise<void> {
    for (const k of keys) {
      await tx.run(
        'INSERT INTO cloud_prekey_ids_taken (device_id, kind, id, public_sha256, taken_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [deviceId, kind, k.id, publicSha256(k.public), at],
      );
    }
  }

  private async putSigned(tx: SqlTx, deviceId: string, spk: SignedPrekeyWire, at: string): Promise<void> {
    const stored = await tx.get<{ public: string }>('SELECT public FROM cloud_prekey_signed WHERE device_id = ? AND id = ?', [
      deviceId,
      spk.id,
    ]);
    if (stored) {
      // The current one again, or a late retry of the one it replaced: either way nothing changes.
      if (stored.public === spk.public) return;
      throw taken(`Signed prekey id ${spk.id} is stored here with another key.`);
    }
    if (await this.wasTaken(tx, deviceId, 'signed', spk.id, spk.public)) return;
    // Rotation: the current one is retired, and the one retired before it is forgotten but for its id.
    const retired = await tx.all<Key>('SELECT id, public FROM cloud_prekey_signed WHERE device_id = ? AND retired_at IS NOT NULL', [
      deviceId,
    ]);
    await this.recordTaken(tx, deviceId, 'signed', retired, at);
    await tx.run('DELETE FROM cloud_prekey_signed WHERE device_id = ? AND retired_at IS NOT NULL', [deviceId]);
    await tx.run('UPDATE cloud_prekey_signed SET retired_at = ? WHERE device_id = ? AND retired_at IS NULL', [at, deviceId]);
    await tx.run('INSERT INTO cloud_prekey_signed (device_id, id, public, signature, published_at) VALUES (?, ?, ?, ?, ?)', [
      deviceId,
      spk.id,
      spk.public,
      spk.signature,
      at,
    ]);
  }

  private async putLastResort(tx: SqlTx, deviceId: string, kem: KemPrekeyWire, at: string): Promise<void> {
    const current = await this.lastResort(tx, deviceId);
    if (current?.id === kem.id) {
      if (current.public === kem.public) return;
      throw taken(`Last-resort KEM prekey id ${kem.id} is stored here with another key.`);
    }
    const oneTime = await tx.get<{ id: number }>('SELECT id FROM cloud_prekey_kem_one_time WHERE device_id = ? AND id = ?', [
      deviceId,
      kem.id,
    ]);
    if (oneTime) throw taken(`KEM prekey id ${kem.id} is stored here as a one-time KEM prekey.`);
    if (await this.wasTaken(tx, deviceId, 'kem', kem.id, kem.public)) return;
    if (current) await this.recordTaken(tx, deviceId, 'kem', [current], at);
    await tx.run(
      'INSERT INTO cloud_prekey_kem_last_resort (device_id, id, public, signature, published_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (device_id) DO UPDATE SET id = excluded.id, public = excluded.public, signature = excluded.signature, published_at = excluded.published_at',
      [deviceId, kem.id, kem.public, kem.signature, at],
    );
  }

  private async putOneTime(tx: SqlTx, deviceId: string, k: OneTimePrekeyWire): Promise<void> {
    const stored = await tx.get<{ public: string }>('SELECT public FROM cloud_prekey_one_time WHERE device_id = ? AND id = ?', [
      deviceId,
      k.id,
    ]);
    if (stored) {
      if (stored.public === k.public) return;
      throw taken(`One-time prekey id ${k.id} is stored here with another key.`);
    }
    if (await this.wasTaken(tx, deviceId, 'one_time', k.id, k.public)) return;
    await tx.run('INSERT INTO cloud_prekey_one_time (device_id, id, public) VALUES (?, ?, ?)', [deviceId, k.id, k.public]);
  }

  private async putKemOneTime(tx: SqlTx, deviceId: string, k: KemPrekeyWire): Promise<void> {
    const stored = await tx.get<{ public: string }>('SELECT public FROM cloud_prekey_kem_one_time WHERE device_id = ? AND id = ?', [
      deviceId,
      k.id,
    ]);
    if (stored) {
      if (stored.public === k.public) return;
      throw taken(`One-time KEM prekey id ${k.id} is stored here with another key.`);
    }
    if ((await this.lastResort(tx, deviceId))?.id === k.id) throw taken(`KEM prekey id ${k.id} is this device's last-resort KEM prekey.`);
    if (await this.wasTaken(tx, deviceId, 'kem', k.id, k.public)) return;
    await tx.run('INSERT INTO cloud_prekey_kem_one_time (device_id, id, public, signature) VALUES (?, ?, ?, ?)', [
      deviceId,
      k.id,
      k.public,
      k.signature,
    ]);
  }
}
