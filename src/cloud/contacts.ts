// Contacts between households (docs/cloud.md "Contacts"). A household invites another with a single-use,
// expiring invite; accepting it makes both households' devices visible to each other (Accounts.canSee reads
// account_contacts); either side removes the contact, and from then on the directory stops listing the other
// side and the relay refuses envelopes between them (not_a_contact). Only SHA-256 of an invite's token is kept.
import { createHash, randomBytes } from 'node:crypto';
import { and, count, eq, gt, isNull, lte, or, sql } from 'drizzle-orm';
import { fingerprintOf } from '../shared/fingerprint.js';
import { sameFingerprint } from '../shared/wire/invite-link.js';
import type { Accounts } from './accounts.js';
import type { CloudDb } from './db/open.js';
import { accountContacts, accountNodes, accounts, contactInvites } from './db/schema.js';
import { CloudError } from './errors.js';

export interface ContactLimits {
  /** How long an invite can be accepted. */
  inviteTtlMs: number;
  /** Unused, unexpired invites one account may hold at once. */
  maxLiveInvites: number;
  /** Contacts one account may have. */
  maxContacts: number;
}

export const DEFAULT_CONTACT_LIMITS: ContactLimits = {
  inviteTtlMs: 7 * 24 * 60 * 60_000,
  maxLiveInvites: 20,
  maxContacts: 1000,
};

/** What an invite says about its household, before and after it is accepted. */
export interface InviteView {
  account_id: string;
  email: string | null;
  /** The node that made the invite, and the fingerprint of its key (what the link carries). */
  node: string;
  fingerprint: string;
  expires_at: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export class Contacts {
  constructor(
    private readonly db: CloudDb,
    private readonly accounts: Accounts,
    private readonly limits: ContactLimits = DEFAULT_CONTACT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  private iso(offsetMs = 0): string {
    return new Date(this.now() + offsetMs).toISOString();
  }

  /** A new invite from `node`'s household: the token goes to the other household out of band (link or QR). */
  invite(accountId: string, node: string): { token: string } & InviteView {
    const now = this.iso();
    this.db.delete(contactInvites).where(lte(contactInvites.expiresAt, now)).run();
    const live = this.db
      .select({ n: count() })
      .from(contactInvites)
      .where(and(eq(contactInvites.accountId, accountId), isNull(contactInvites.usedAt), gt(contactInvites.expiresAt, now)))
      .get()!.n;
    if (live >= this.limits.maxLiveInvites)
      throw new CloudError(
        429,
        'too_many_attempts',
        `${live} invites of this household are still open; wait until they are used or expire.`,
        60,
      );
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.limits.inviteTtlMs);
    this.db
      .insert(contactInvites)
      .values({ tokenHash: sha256(token), accountId, node, createdAt: now, expiresAt })
      .run();
    return { token, ...this.viewOf(accountId, node, expiresAt) };
  }

  /** Who invites, for the accepting side to check before it accepts (nothing changes). */
  preview(accountId: string, token: string): InviteView {
    const row = this.usable(accountId, token);
    return this.viewOf(row.accountId, row.node, row.expiresAt);
  }

  /**
   * Accepts: the two households become contacts, in one commit with the invite's use (a second accept of the
   * same token loses). `fingerprint` is what the link said about the inviting node's key: if the cloud's record
   * names another key, someone changed the link (or the cloud lies): 409 invite_mismatch, nothing done.
   */
  accept(accountId: string, token: string, fingerprint: string): InviteView {
    const row = this.usable(accountId, token);
    const view = this.viewOf(row.accountId, row.node, row.expiresAt);
    if (!sameFingerprint(fingerprint, view.fingerprint)) {
      throw new CloudError(409, 'invite_mismatch', "The invite's fingerprint is not that of the household that made it: do not accept it.");
    }
    const at = this.iso();
    this.db.transaction((tx) => {
      const used = tx
        .update(contactInvites)
        .set({ usedAt: at, usedBy: accountId })
        .where(and(eq(contactInvites.tokenHash, sha256(token)), isNull(contactInvites.usedAt)))
        .run();
      if (used.changes !== 1) throw new CloudError(409, 'invite_used', 'This invite was already used; ask for a new one.');
      const mine = tx.select({ n: count() }).from(accountContacts).where(eq(accountContacts.accountId, accountId)).get()!.n;
      if (mine >= this.limits.maxContacts)
        throw new CloudError(409, 'contact_limit', `A household has at most ${this.limits.maxContacts} contacts.`);
      for (const [a, b] of [
        [accountId, row.accountId],
        [row.accountId, accountId],
      ] as const) {
        tx.insert(accountContacts).values({ accountId: a, contactId: b, createdAt: at }).onConflictDoNothing().run();
      }
    });
    return view;
  }

  /** The households this one is a contact of, with their nodes' keys (the contact's safety number covers them). */
  list(accountId: string): { account_id: string; email: string | null; since: string; nodes: number; node_keys: string[] }[] {
    const rows = this.db
      .select({
        account_id: accountContacts.contactId,
        email: accounts.email,
        since: accountContacts.createdAt,
        // Node ids are base64url: a comma cannot be in one.
        nodeKeys: sql<string | null>`group_concat(${accountNodes.node})`,
      })
      .from(accountContacts)
      .leftJoin(accounts, eq(accounts.id, accountContacts.contactId))
      .leftJoin(accountNodes, eq(accountNodes.accountId, accountContacts.contactId))
      .where(eq(accountContacts.accountId, accountId))
      .groupBy(accountContacts.contactId, accounts.email, accountContacts.createdAt)
      .orderBy(accountContacts.createdAt)
      .all();
    return rows.map(({ nodeKeys, ...r }) => {
      const keys = nodeKeys ? nodeKeys.split(',').sort() : [];
      return { ...r, nodes: keys.length, node_keys: keys };
    });
  }

  /** Either side ends the contact: both directions go. 404 when there was none. */
  remove(accountId: string, contactId: string): void {
    const r = this.db
      .delete(accountContacts)
      .where(
        or(
          and(eq(accountContacts.accountId, accountId), eq(accountContacts.contactId, contactId)),
          and(eq(accountContacts.accountId, contactId), eq(accountContacts.contactId, accountId)),
        ),
      )
      .run();
    if (r.changes === 0) throw new CloudError(404, 'contact_not_found', 'No such contact of your household.');
  }

  /** The invite of `token`, if it can still be accepted by `accountId` (the right 4xx otherwise). */
  private usable(accountId: string, token: string) {
    const row = TOKEN.test(token)
      ? this.db
          .select()
          .from(contactInvites)
          .where(eq(contactInvites.tokenHash, sha256(token)))
          .get()
      : undefined;
    // A made-up or mistyped token, and one of a deleted (long expired) invite, look the same.
    if (!row) throw new CloudError(404, 'invite_not_found', 'No such invite: check the link, or ask for a new one.');
    if (row.usedAt !== null) throw new CloudError(409, 'invite_used', 'This invite was already used; ask for a new one.');
    if (Date.parse(row.expiresAt) <= this.now()) throw new CloudError(410, 'invite_expired', 'This invite has expired; ask for a new one.');
    if (row.accountId === accountId) throw new CloudError(409, 'invite_own_account', 'This invite is from your own household.');
    return row;
  }

  private viewOf(accountId: string, node: string, expiresAt: string): InviteView {
    return {
      account_id: accountId,
      email: this.accounts.emailOf(accountId),
      node,
      fingerprint: fingerprintOf(Buffer.from(node, 'base64url')),
      expires_at: expiresAt,
    };
  }
}
