// The account's own management (docs/cloud.md "Accounts"): the nodes of the caller's household and what each
// publishes, removing one (its tokens revoked, its socket closed, its devices out of the directory), and
// signing out every node of the account at once.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { AccountResponse, RemoveNodeResponse, SignOutEverywhereResponse } from '../shared/wire/cloud.js';
import type { Accounts } from './accounts.js';
import type { AuthService, Principal } from './auth-service.js';
import { CloudError } from './errors.js';
import type { CloudEnv } from './http-env.js';
import type { KeyDirectory } from './key-directory.js';
import type { RelayHub } from './relay-hub.js';

export interface AccountRouteDeps {
  readonly auth: AuthService;
  readonly accounts: Accounts;
  readonly directory: KeyDirectory;
  readonly relay: { readonly hub: RelayHub };
}

/** The caller's account id; a node in none (every token of a removed node is revoked) may not act for one. */
export const accountOf = (p: Principal): string => {
  if (p.accountId === null) throw new CloudError(403, 'forbidden', 'This node is in no account; log in again.');
  return p.accountId;
};

export function mountAccountRoutes(app: Hono<CloudEnv>, d: AccountRouteDeps, authed: MiddlewareHandler<CloudEnv>): void {
  /** Out of the account: no token, no socket, no devices in anyone's directory (and so no prekeys). */
  const signOut = async (node: string, reason: string): Promise<number> => {
    const revoked = await d.auth.revokeDevice(node);
    d.relay.hub.closeNode(node, reason);
    return revoked;
  };

  app.get('/api/account', authed, async (c) => {
    const me = c.get('principal');
    const id = accountOf(me);
    const nodes = await d.accounts.nodes(id);
    const devices = await d.directory.list(new Set(nodes.map((n) => n.node)));
    const connected = await Promise.all(nodes.map((n) => d.relay.hub.isConnected(n.node)));
    return c.json({
      account: { id, email: await d.accounts.emailOf(id) },
      nodes: nodes.map((n, i) => ({
        node: n.node,
        name: n.name,
        joined_at: n.joinedAt,
        self: n.node === me.deviceId,
        connected: connected[i]!,
        devices: devices
          .filter((e) => e.node === n.node)
          .map((e) => ({ device_id: e.device_id, name: e.name, kind: e.kind, public_key: e.public_key })),
      })),
    } satisfies AccountResponse);
  });

  app.delete('/api/account/nodes/:node', authed, async (c: Context<CloudEnv>) => {
    const id = accountOf(c.get('principal'));
    const node = c.req.param('node') ?? '';
    if ((await d.accounts.accountOf(node)) !== id) {
      throw new CloudError(404, 'node_not_in_account', 'No such node in your account.');
    }
    await d.accounts.leave(node);
    await d.directory.publish(node, []);
    return c.json({ removed: node, tokens_revoked: await signOut(node, 'node_removed') } satisfies RemoveNodeResponse);
  });

  app.post('/api/account/sign-out', authed, async (c) => {
    const nodes = await d.accounts.nodes(accountOf(c.get('principal')));
    let revoked = 0;
    for (const n of nodes) revoked += await signOut(n.node, 'signed_out');
    return c.json({ nodes: nodes.length, tokens_revoked: revoked } satisfies SignOutEverywhereResponse);
  });
}
