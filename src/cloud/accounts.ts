// Accounts and households (docs/cloud.md "Accounts"). An account is an email address a one-time code proved;
// the nodes logged in to it are one household, and a node sees the devices of its household and of the
// households it is a contact of (contacts.ts), and nothing else. Everything that shows or reaches another node's devices (the key directory, replaced ids, prekey claims,
// the relay, blobs) asks `canSee` here, so scoping is decided in one place.
import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { type CloudDb, sqliteOf } from './db/open.js';

/** The account of the flag-guarded device-id login: its nodes see each other, as every node did before accounts. */
export const LEGACY_ACCOUNT = 'legacy';

export interface AccountNode {
  node: string;
  name: string | null;
  joinedAt: string;
}

export class Accounts {
  private readonly q: {
    byEmail: Statement<[string], string>;
    insertAccount: Statement<[string, string | null, string]>;
    accountOf: Statement<[string], string>;
    email: Statement<[string], string | null>;
    join: Statement<[string, string, string | null, string]>;
    leave: Statement<[string]>;
    nodes: Statement<[string], AccountNode>;
    contact: Statement<[string, string], number>;
    contactNodes: Statement<[string], string>;
  };

  constructor(
    db: CloudDb,
    private readonly now: () => number = Date.now,
  ) {
    const s = sqliteOf(db);
    this.q = {
      byEmail: s.prepare<[string], string>('SELECT id FROM accounts WHERE email = ?').pluck(),
      insertAccount: s.prepare('INSERT INTO accounts (id, email, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      accountOf: s.prepare<[string], string>('SELECT account_id FROM account_nodes WHERE node = ?').pluck(),
      email: s.prepare<[string], string | null>('SELECT email FROM accounts WHERE id = ?').pluck(),
      join: s.prepare(
        'INSERT INTO account_nodes (node, account_id, name, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT (node) DO UPDATE SET ' +
          'name = excluded.name, joined_at = CASE WHEN account_nodes.account_id = excluded.account_id THEN account_nodes.joined_at ELSE excluded.joined_at END, ' +
          'account_id = excluded.account_id',
      ),
      leave: s.prepare('DELETE FROM account_nodes WHERE node = ?'),
      nodes: s.prepare('SELECT node, name, joined_at AS joinedAt FROM account_nodes WHERE account_id = ? ORDER BY joined_at, node'),
      contact: s.prepare<[string, string], number>('SELECT 1 FROM account_contacts WHERE account_id = ? AND contact_id = ?').pluck(),
      contactNodes: s
        .prepare<[string], string>(
          'SELECT n.node FROM account_contacts c JOIN account_nodes n ON n.account_id = c.contact_id WHERE c.account_id = ?',
        )
        .pluck(),
    };
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /**
   * Puts `node` in the account of `email` (made now if it is new), or in the legacy account when email is null.
   * Runs inside the caller's transaction (the login's). Returns the account id.
   */
  join(node: string, email: string | null, name: string | null): string {
    let id: string;
    if (email === null) {
      id = LEGACY_ACCOUNT;
      this.q.insertAccount.run(id, null, this.iso());
    } else {
      this.q.insertAccount.run(randomUUID(), email, this.iso());
      id = this.q.byEmail.get(email)!;
    }
    this.q.join.run(node, id, name, this.iso());
    return id;
  }

  /** Puts `node` in the existing account `accountId` (a login approved by a passkey or a provider); in a transaction. */
  joinAccount(node: string, accountId: string, name: string | null): void {
    this.q.join.run(node, accountId, name, this.iso());
  }

  /** The account of `email` (made now if it is new): a provider's verified address names it. */
  accountForEmail(email: string): string {
    this.q.insertAccount.run(randomUUID(), email, this.iso());
    return this.q.byEmail.get(email)!;
  }

  /** Takes `node` out of its account: it sees nothing and nobody sees it until it logs in again. */
  leave(node: string): void {
    this.q.leave.run(node);
  }

  /**
   * Read from the table on every call, not cached: one indexed lookup, and memberships change under a running
   * relay (a node removed, another login) where a stale answer would let a removed node through.
   */
  accountOf(node: string): string | null {
    return this.q.accountOf.get(node) ?? null;
  }

  /** The account's address; null for the legacy account. */
  emailOf(accountId: string): string | null {
    return this.q.email.get(accountId) ?? null;
  }

  /** The account's nodes, oldest member first. */
  nodes(accountId: string): AccountNode[] {
    return this.q.nodes.all(accountId);
  }

  /**
   * Whether `viewer` may see (and reach) the devices of `owner`: the same household, or households that are
   * contacts. A node in no account sees nothing.
   */
  canSee(viewer: string, owner: string): boolean {
    if (viewer === owner) return true;
    const a = this.accountOf(viewer);
    const b = this.accountOf(owner);
    return a !== null && b !== null && (a === b || this.q.contact.get(a, b) === 1);
  }

  /** The nodes `viewer` may see, itself included: its household's and its contacts'. */
  visibleNodes(viewer: string): Set<string> {
    const a = this.accountOf(viewer);
    const out = new Set<string>([viewer]);
    if (a === null) return out;
    for (const n of this.nodes(a)) out.add(n.node);
    for (const n of this.q.contactNodes.all(a)) out.add(n);
    return out;
  }
}
