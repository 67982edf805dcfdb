// Accounts and households (docs/cloud.md "Accounts"). An account is an email address a one-time code proved;
// the nodes logged in to it are one household, and a node sees the devices of its household and of the
// households it is a contact of (contacts.ts), and nothing else. Everything that shows or reaches another node's devices (the key directory, replaced ids, prekey claims,
// the relay, blobs) asks `canSee` here, so scoping is decided in one place.
import { randomUUID } from 'node:crypto';
import type { CloudSql, SqlQuery } from './db/sql.js';

/** The account of the flag-guarded device-id login: its nodes see each other, as every node did before accounts. */
export const LEGACY_ACCOUNT = 'legacy';

export interface AccountNode {
  node: string;
  name: string | null;
  joinedAt: string;
}

const INSERT_ACCOUNT = 'INSERT INTO accounts (id, email, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING';
const JOIN =
  'INSERT INTO account_nodes (node, account_id, name, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT (node) DO UPDATE SET ' +
  'name = excluded.name, joined_at = CASE WHEN account_nodes.account_id = excluded.account_id THEN account_nodes.joined_at ELSE excluded.joined_at END, ' +
  'account_id = excluded.account_id';

export class Accounts {
  constructor(
    private readonly sql: CloudSql,
    private readonly now: () => number = Date.now,
  ) {}

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  /**
   * Puts `node` in the account of `email` (made now if it is new), or in the legacy account when email is null.
   * Runs inside the caller's transaction (the login's). Returns the account id.
   */
  async join(node: string, email: string | null, name: string | null, tx: SqlQuery = this.sql): Promise<string> {
    const id = email === null ? LEGACY_ACCOUNT : await this.accountIn(tx, email);
    if (email === null) await tx.run(INSERT_ACCOUNT, [id, null, this.iso()]);
    await tx.run(JOIN, [node, id, name, this.iso()]);
    return id;
  }

  /** Puts `node` in the existing account `accountId` (a login approved by a passkey or a provider); in a transaction. */
  async joinAccount(node: string, accountId: string, name: string | null, tx: SqlQuery = this.sql): Promise<void> {
    await tx.run(JOIN, [node, accountId, name, this.iso()]);
  }

  /** The account of `email` (made now if it is new): a provider's verified address names it. */
  accountForEmail(email: string): Promise<string> {
    return this.accountIn(this.sql, email);
  }

  private async accountIn(q: SqlQuery, email: string): Promise<string> {
    await q.run(INSERT_ACCOUNT, [randomUUID(), email, this.iso()]);
    return (await q.get<{ id: string }>('SELECT id FROM accounts WHERE email = ?', [email]))!.id;
  }

  /** Takes `node` out of its account: it sees nothing and nobody sees it until it logs in again. */
  async leave(node: string): Promise<void> {
    await this.sql.run('DELETE FROM account_nodes WHERE node = ?', [node]);
  }

  /**
   * Read from the table on every call, not cached: one indexed lookup, and memberships change under a running
   * relay (a node removed, another login, on another instance) where a stale answer would let a removed node through.
   */
  async accountOf(node: string): Promise<string | null> {
    return (await this.sql.get<{ id: string }>('SELECT account_id AS id FROM account_nodes WHERE node = ?', [node]))?.id ?? null;
  }

  /** The account's address; null for the legacy account. */
  async emailOf(accountId: string): Promise<string | null> {
    return (await this.sql.get<{ email: string | null }>('SELECT email FROM accounts WHERE id = ?', [accountId]))?.email ?? null;
  }

  /** The account's nodes, oldest member first. */
  nodes(accountId: string): Promise<AccountNode[]> {
    return this.sql.all<AccountNode>(
      'SELECT node, name, joined_at AS "joinedAt" FROM account_nodes WHERE account_id = ? ORDER BY joined_at, node',
      [accountId],
    );
  }

  /**
   * Whether `viewer` may see (and reach) the devices of `owner`: the same household, or households that are
   * contacts. A node in no account sees nothing. One query: the relay asks it for every envelope.
   */
  async canSee(viewer: string, owner: string, q: SqlQuery = this.sql): Promise<boolean> {
    if (viewer === owner) return true;
    const r = await q.get<{ ok: number }>(
      'SELECT 1 AS ok FROM account_nodes a JOIN account_nodes b ON b.node = ? WHERE a.node = ? AND (a.account_id = b.account_id OR ' +
        'EXISTS (SELECT 1 FROM account_contacts c WHERE c.account_id = a.account_id AND c.contact_id = b.account_id))',
      [owner, viewer],
    );
    return r !== undefined;
  }

  /** The nodes `viewer` may see, itself included: its household's and its contacts'. */
  async visibleNodes(viewer: string): Promise<Set<string>> {
    const out = new Set<string>([viewer]);
    const a = await this.accountOf(viewer);
    if (a === null) return out;
    for (const n of await this.nodes(a)) out.add(n.node);
    const contacts = await this.sql.all<{ node: string }>(
      'SELECT n.node FROM account_contacts c JOIN account_nodes n ON n.account_id = c.contact_id WHERE c.account_id = ?',
      [a],
    );
    for (const n of contacts) out.add(n.node);
    return out;
  }
}
