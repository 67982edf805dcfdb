// Routes for the desktop UI on this machine (admin token + loopback): state, rename, unpair,
// pair with another desktop, and the live event socket.
import { Hono } from 'hono';
import { upgradeWebSocket } from '@hono/node-server';
import { PairRemoteRequest, RenameRequest, type AdminEvent } from '../../../../shared/wire/schemas.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { requireAdmin } from '../request-auth.js';

export function adminRoutes(core: NodeCore): Hono {
  const app = new Hono();
  const admin = requireAdmin(core.adminToken);

  app.get('/admin/state', admin, (c) => c.json(core.adminState()));

  app.patch('/node/identity', admin, async (c) => {
    const req = await readBody(c, RenameRequest);
    core.rename(req.name);
    return c.json(core.identityView());
  });

  app.delete('/mesh/nodes/:node_id', admin, (c) => {
    core.mesh.unpair(c.req.param('node_id'));
    return c.json({ ok: true });
  });

  app.post('/admin/pair-remote', admin, async (c) => {
    const req = await readBody(c, PairRemoteRequest);
    return c.json({ ok: true, node: await core.mesh.pairRemote(req, core.selfPayload()) });
  });

  // The auth middleware runs before the upgrade (@hono/node-server >= 2 upgrades through app.fetch).
  app.get('/admin/events', admin, upgradeWebSocket(() => {
    let unsubscribe: (() => void) | undefined;
    return {
      onOpen(_evt, ws) {
        const send = (e: AdminEvent) => ws.send(JSON.stringify(e));
        send({ type: 'state', state: core.adminState() });
        unsubscribe = core.feed.subscribe((e) => {
          if (e.type === 'changed') send({ type: 'state', state: core.adminState() });
          else send(e);
        });
      },
      onClose() {
        unsubscribe?.();
      },
    };
  }));

  return app;
}
