// Contacts between households (docs/cloud.md "Contacts"). A household invites another with a single-use,
// expiring invite; accepting it makes both households' devices visible to each other (Accounts.canSee reads
// account_contacts); either side removes the contact, and from then on the directory stops listing the other
// side and the relay refuses envelopes between them (not_a_contact). Only SHA-256 of an invite's token is kept.
import { createHash, randomBytes } from 'node:crypto';
import { fingerprintOf } from '../shared/fingerprint.js';
import { sameFingerprint } from '../shared/wire/invite-link.js';
import type { Accounts } from './accounts.js';
import type { CloudSql } from './db/sql.js';
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

type InviteRow = { accountId: string; node: string; expiresAt: string; usedAt: string | null };

export class Contacts {
  constructor(
    private readonly sql: CloudSql,
    private readonly accounts: Accounts,
    private readonly limits: ContactLimits = DEFAULT_CONTACT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  private iso(offsetMs = 0): string {
    return new Date(this.now() + offsetMs).toISOString();
  }

  /** A new invite from `node`'s household: the token goes to the other household out of band (link or QR). */
  async invite(accountId: string, node: string): Promise<{ token: string } & InviteView> {
    const now = this.iso();
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.iso(this.limits.inviteTtlMs);
    // Counted and written under the account's lock: two instances cannot both make the last allowed invite.
    await this.sql.tx(async (tx) => {
      await tx.lock(`invites:${accountId}`);
      await tx.run('DELETE FROM contact_invites WHERE expires_at <= ?', [now]);
      const live = (await tx.get<{ n: number }>(
        'SELECT count(*) AS n FROM contact_invites WHERE account_id = ? AND used_at IS NULL AND expires_at > ?',
        [accountId, now],
      ))!.n;
      if (live >= this.limits.maxLiveInvites)
        throw new CloudError(
          429,
          'too_many_attempts',
          `${live} invites of this household are still open; wait until they are used or expire.`,
          60,
        );
      await tx.run('INSERT INTO contact_invites (token_hash, account_id, node, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
        sha256(token),
        accountId,
        node,
        now,
        expiresAt,
      ]);
    });
    return { token, ...(await this.viewOf(accountId, node, expiresAt)) };
  }

  /** Who invites, for the accepting side to check before it accepts (nothing changes). */
  async preview(accountId: string, token: string): Promise<InviteView> {
    const row = await this.usable(accountId, token);
    return this.viewOf(row.accountId, row.node, row.expiresAt);
  }

  /**
   * Accepts: the two households become contacts, in one commit with the invite's use (a second accept of the
   * same token loses). `fingerprint` is what the link said about the inviting node's key: if the cloud's record
   * names another key, someone changed the link (or the cloud lies): 409 invite_mismatch, nothing done.
   */
  async accept(accountId: string, token: string, fingerprint: string): Promise<InviteView> {
    const row = await this.usable(accountId, token);
    const view = await this.viewOf(row.accountId, row.node, row.expiresAt);
    if (!sameFingerprint(fingerprint, view.fingerprint)) {
      throw new CloudError(409, 'invite_mismatch', "The invite's fingerprint is not that of the household that made it: do not accept it.");
    }
    const at = this.iso();
    await this.sql.tx(async (tx) => {
      await tx.lock(`contacts:${accountId}`);
      const used = await tx.run('UPDATE contact_invites SET used_at = ?, used_by = ? WHERE token_hash = ? AND used_at IS NULL', [
        at,
        accountId,
        sha256(token),
      ]);
      if (used.changes !== 1) throw new CloudError(409, 'invite_used', 'This invite was already used; ask for a new one.');
      const mine = (await tx.get<{ n: number }>('SELECT count(*) AS n FROM account_contacts WHERE account_id = ?', [accountId]))!.n;
      if (mine >= this.limits.maxContacts)
        throw new CloudError(409, 'contact_limit', `A household has at most ${this.limits.maxContacts} contacts.`);
      for (const [a, b] of [
        [accountId, row.accountId],
        [row.accountId, accountId],
      ] as const) {
        await tx.run('INSERT INTO account_contacts (account_id, contact_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [
          a,
          b,
          at,
        ]);
      }
    });
    return view;
  }

  /** The households this one is a contact of, with their nodes' keys (the contact's safety number covers them). */
  async list(
    accountId: string,
  ): Promise<{ account_id: string; email: string | null; since: string; nodes: number; node_keys: string[] }[]> {
    const rows = await this.sql.all<{ account_id: string; email: string | null; since: string; node: string | null }>(
      'SELECT c.contact_id AS account_id, a.email AS email, c.created_at AS since, n.node AS node FROM account_contacts c ' +
        'LEFT JOIN accounts a ON a.id = c.contact_id LEFT JOIN account_nodes n ON n.account_id = c.contact_id ' +
        'WHERE c.account_id = ? ORDER BY c.created_at, c.contact_id',
      [accountId],
    );
    const out = new Map<string, { account_id: string; email: string | null; since: string; nodes: number; node_keys: string[] }>();
    for (const r of rows) {
      let c = out.get(r.account_id);
      if (!c) {
        c = { account_id: r.account_id, email: r.email, since: r.since, nodes: 0, node_keys: [] };
        out.set(r.account_id, c);
      }
      if (r.node !== null) c.node_keys.push(r.node);
    }
    return [...out.values()].map((c) => {
      const keys = c.node_keys.sort();
      return { ...c, nodes: keys.length, node_keys: keys };
    });
  }

  /** Either side ends the contact: both directions go. 404 when there was none. */
  async remove(accountId: string, contactId: string): Promise<void> {
    const r = await this.sql.run(
      'DELETE FROM account_contacts WHERE (account_id = ? AND contact_id = ?) OR (account_id = ? AND contact_id = ?)',
      [accountId, contactId, contactId, accountId],
    );
    if (r.changes === 0) throw new CloudError(404, 'contact_not_found', 'No such contact of your household.');
  }

  /** The invite of `token`, if it can still be accepted by `accountId` (the right 4xx otherwise). */
  private async usable(accountId: string, token: string): Promise<InviteRow> {
    const row = TOKEN.test(token)
      ? await this.sql.get<InviteRow>(
          'SELECT account_id AS "accountId", node, expires_at AS "expiresAt", used_at AS "usedAt" FROM contact_invites WHERE token_hash = ?',
          [sha256(token)],
        )
      : undefined;
    // A made-up or mistyped token, and one of a deleted (long expired) invite, look the same.
    if (!row) throw new CloudError(404, 'invite_not_found', 'No such invite: check the link, or ask for a new one.');
    if (row.usedAt !== null) throw new CloudError(409, 'invite_used', 'This invite was already used; ask for a new one.');
    if (Date.parse(row.expiresAt) <= this.now()) throw new CloudError(410, 'invite_expired', 'This invite has expired; ask for a new one.');
    if (row.accountId === accountId) throw new CloudError(409, 'invite_own_account', 'This invite is from your own household.');
    return row;
  }

  private async viewOf(accountId: string, node: string, expiresAt: string): Promise<InviteView> {
    return {
      account_id: accountId,
      email: await this.accounts.emailOf(accountId),
      node,
      fingerprint: fingerprintOf(Buffer.from(node, 'base64url')),
      expires_at: expiresAt,
    };
  }
}
