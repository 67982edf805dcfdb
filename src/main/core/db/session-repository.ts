// device_sessions: sessions granted to paired devices. The node keeps only the per-device verification key
// (sealed with the SecretBox), never the device secret, so a copied database lets no one act as a device.
import { randomBytes } from 'node:crypto';
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { toBase64Url } from '../../../shared/encoding.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { Db } from './open-database.js';
import { deviceSessions } from './schema.js';

export type SessionRow = typeof deviceSessions.$inferSelect;

export type SessionLookup =
  | { ok: true; session: SessionRow; hmacKey: Uint8Array }
  | { ok: false; reason: 'session_unknown' | 'session_revoked' | 'pairing_unconfirmed' | 'session_unreadable' };

export class SessionRepository {
  /** Opened keys by session id: unsealing on every request would cost more than the HMAC itself. */
  private keyCache = new Map<string, { session: SessionRow; key: Uint8Array }>();

  /** `onRevoke` hears every revocation (unpair, logout, re-pair) so open sockets can be closed at once. */
  /** Prepared once: this runs on every signed request. */
  private readonly byId;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly onRevoke: (ids: string[]) => void = () => {},
  ) {
    this.byId = db
      .select()
      .from(deviceSessions)
      .where(eq(deviceSessions.id, sql.placeholder('id')))
      .prepare();
  }

  create(
    nodeId: string,
    hmacKey: Uint8Array,
    ttlMs: number,
    state: 'active' | 'pending' = 'active',
    id = toBase64Url(randomBytes(16)),
  ): SessionRow {
    return this.db
      .insert(deviceSessions)
      .values({
        id,
        nodeId,
        hmacKey: this.box.seal(hmacKey),
        state,
        createdAt: new Date().toISOString(),
        expiresAt: Date.now() + ttlMs,
      })
      .returning()
      .get();
  }

  lookup(id: string, now = Date.now()): SessionLookup {
    // Active sessions are cached with their opened key. Every change that can end one (revoke, revokeAllFor)
    // goes through this class and drops the entry, so the cache cannot outlive a revocation; expiry is
    // checked on every call.
    const cached = this.keyCache.get(id);
    if (cached) {
      if (cached.session.expiresAt > now) return { ok: true, session: cached.session, hmacKey: cached.key };
      this.keyCache.delete(id);
    }
    const session = this.byId.get({ id });
    if (!session) return { ok: false, reason: 'session_unknown' };
    if (session.revokedAt || session.expiresAt <= now) return { ok: false, reason: 'session_revoked' };
    if (session.state !== 'active') return { ok: false, reason: 'pairing_unconfirmed' };
    // A key that no longer opens (the storage key was replaced under a running data dir) can never check a
    // signature again: the device is told its session is gone, so it drops it and pairs again.
    let key: Uint8Array;
    try {
      key = this.box.open(session.hmacKey);
    } catch {
      return { ok: false, reason: 'session_unreadable' };
    }
    this.keyCache.set(id, { session, key });
    return { ok: true, session, hmacKey: key };
  }

  activate(id: string): boolean {
    return (
      this.db
        .update(deviceSessions)
        .set({ state: 'active' })
        .where(and(eq(deviceSessions.id, id), eq(deviceSessions.state, 'pending'), isNull(deviceSessions.revokedAt)))
        .run().changes === 1
    );
  }

  /** When each session's last_used_at was last written; see touch(). */
  private readonly touchedAt = new Map<string, number>();

  /**
   * Records use of a session. last_used_at is for people ("used 5 minutes ago"), so writing it on every
   * request would spend a database write per call for nothing; once a minute per session is plenty.
   */
  touch(id: string, now = Date.now()): void {
    if (now - (this.touchedAt.get(id) ?? 0) < 60_000) return;
    this.touchedAt.set(id, now);
    this.db
      .update(deviceSessions)
      .set({ lastUsedAt: new Date(now).toISOString() })
      .where(eq(deviceSessions.id, id))
      .run();
  }

  revoke(id: string): boolean {
    this.keyCache.delete(id);
    this.touchedAt.delete(id);
    const done =
      this.db
        .update(deviceSessions)
        .set({ revokedAt: new Date().toISOString() })
        .where(and(eq(deviceSessions.id, id), isNull(deviceSessions.revokedAt)))
        .run().changes === 1;
    if (done) this.onRevoke([id]);
    return done;
  }

  /**
   * Bounds the table (run on a timer and after each pairing). Removes: pending sessions whose confirmation
   * window (`pendingMaxAgeMs`) is over (the in-memory confirmation is gone, so they can never become active);
   * rows revoked or expired more than `keepMs` ago; per device, every row but the newest `maxPerDevice`
   * (re-pairs revoke the older ones, which are only kept so the old session is told "revoked"); and past
   * `maxDeadRows` rows that are not live, the oldest of them. Returns the number of rows deleted.
   */
  prune(opts: { now?: number; keepMs: number; pendingMaxAgeMs: number; maxPerDevice: number; maxDeadRows: number }): number {
    const now = opts.now ?? Date.now();
    const keepIso = new Date(now - opts.keepMs).toISOString();
    const pendingIso = new Date(now - opts.pendingMaxAgeMs).toISOString();
    const deleted = this.db
      .all<{ id: string }>(sql`
      DELETE FROM device_sessions WHERE
        (state = 'pending' AND revoked_at IS NULL AND created_at < ${pendingIso})
        OR (revoked_at IS NOT NULL AND revoked_at < ${keepIso})
        OR expires_at < ${now - opts.keepMs}
        OR rowid IN (SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER (PARTITION BY node_id ORDER BY rowid DESC) AS n FROM device_sessions) WHERE n > ${opts.maxPerDevice})
        OR rowid IN (SELECT rowid FROM device_sessions WHERE revoked_at IS NOT NULL OR expires_at <= ${now} OR state = 'pending'
                     ORDER BY rowid DESC LIMIT -1 OFFSET ${opts.maxDeadRows})
      RETURNING id`)
      .map((r) => r.id);
    for (const id of deleted) {
      this.keyCache.delete(id);
      this.touchedAt.delete(id);
    }
    // A live session can be deleted by the per-device bound (only after newer ones of the same device):
    // its sockets must not outlive it.
    if (deleted.length > 0) this.onRevoke(deleted);
    return deleted.length;
  }

  count(): number {
    return this.db.get<{ n: number }>(sql`SELECT count(*) AS n FROM device_sessions`).n;
  }

  /** Revokes every live session of a node; returns the ids revoked (so open sockets can be closed). */
  revokeAllFor(nodeId: string, exceptId?: string): string[] {
    const ids = this.db
      .update(deviceSessions)
      .set({ revokedAt: new Date().toISOString() })
      .where(
        and(eq(deviceSessions.nodeId, nodeId), isNull(deviceSessions.revokedAt), exceptId ? ne(deviceSessions.id, exceptId) : undefined),
      )
      .returning({ id: deviceSessions.id })
      .all()
      .map((r) => r.id);
    for (const id of ids) this.keyCache.delete(id);
    if (ids.length > 0) this.onRevoke(ids);
    return ids;
  }
}
