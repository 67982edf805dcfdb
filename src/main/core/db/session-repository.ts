// device_sessions: bearer sessions granted to paired devices. The token itself is never stored, only its
// SHA-256, so a copy of the database does not let anyone act as a device.
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { toBase64Url } from '../../../shared/encoding.js';
import type { Db } from './open-database.js';
import { deviceSessions } from './schema.js';

export type SessionRow = typeof deviceSessions.$inferSelect;

export type SessionLookup =
  | { ok: true; session: SessionRow }
  | { ok: false; reason: 'session_unknown' | 'session_revoked' };

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class SessionRepository {
  constructor(private readonly db: Db) {}

  create(nodeId: string, ttlMs: number): { token: string; session: SessionRow } {
    const token = toBase64Url(randomBytes(32));
    const session = this.db.insert(deviceSessions).values({
      id: uuidv7(),
      tokenHash: hashToken(token),
      nodeId,
      createdAt: new Date().toISOString(),
      expiresAt: Date.now() + ttlMs,
    }).returning().get();
    return { token, session };
  }

  lookup(token: string, now = Date.now()): SessionLookup {
    const session = this.db.select().from(deviceSessions).where(eq(deviceSessions.tokenHash, hashToken(token))).get();
    if (!session) return { ok: false, reason: 'session_unknown' };
    if (session.revokedAt || session.expiresAt <= now) return { ok: false, reason: 'session_revoked' };
    return { ok: true, session };
  }

  touch(id: string): void {
    this.db.update(deviceSessions).set({ lastUsedAt: new Date().toISOString() }).where(eq(deviceSessions.id, id)).run();
  }

  /** Revokes every live session of a node; returns the ids revoked (so open sockets can be closed). */
  revokeAllFor(nodeId: string): string[] {
    return this.db.update(deviceSessions).set({ revokedAt: new Date().toISOString() })
      .where(and(eq(deviceSessions.nodeId, nodeId), isNull(deviceSessions.revokedAt)))
      .returning({ id: deviceSessions.id }).all().map((r) => r.id);
  }
}
