// Routes for the desktop UI on this machine (admin token + loopback): state, rename, unpair,
// pair with another desktop, settings, notices, network diagnostics, and the live event socket.

import { upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import { webSocketHandshakeGuard } from '../../../../server/http/websocket-upgrade.js';
import { PairRequestCreate } from '../../../../shared/wire/pair-request.js';
import { type AdminEvent, PairRemoteRequest, RenameRequest, SettingsUpdateRequest } from '../../../../shared/wire/schemas.js';
import { ApiError } from '../api-error.js';
import { closeReplaced } from '../device-sockets.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { requireAdmin } from '../request-auth.js';

export function adminRoutes(core: NodeCore): Hono {
  const app = new Hono();
  const admin = requireAdmin(core.adminToken);

  app.get('/admin/state', admin, (c) => c.json(core.adminState()));

  app.get('/admin/settings', admin, (c) => c.json(core.settings()));

  app.put('/admin/settings', admin, async (c) => {
    const req = await readBody(c, SettingsUpdateRequest);
    return c.json(await core.updateSettings(req));
  });

  // Idempotent: dismissing a notice that is already gone is fine (two windows, a double click).
  app.post('/admin/notices/:id/dismiss', admin, (c) => {
    core.notices.dismiss(c.req.param('id'));
    return c.json({ ok: true });
  });

  app.get('/node/diagnostics', admin, async (c) => c.json(await core.diagnostics()));

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
    return c.json(await core.mesh.pairRemote(req, core.pairingIdentity(), core.timings.pairingTtlMs));
  });

  // Pair with another desktop by request: answers at once with the pending entry (SAS); the other desktop's
  // person accepts or declines and this node learns it by itself (mesh-service.ts requestPairing).
  app.post('/admin/pair-requests', admin, async (c) => {
    const req = await readBody(c, PairRequestCreate);
    return c.json(await core.mesh.requestPairing(req, core.pairingIdentity(), core.timings.pairingTtlMs));
  });

  // The person compared the short codes on both screens (desktop pairing by linking code).
  app.post('/admin/pairings/:id/confirm', admin, (c) => {
    const id = c.req.param('id');
    if (core.pairing.pending.list().some((p) => p.pairing_id === id)) {
      const done = core.pairing.confirm(id);
      core.feed.emit({ type: 'pairing_completed', code: id, node_id: done.nodeId, name: done.name });
      core.feed.changed();
      return c.json({ ok: true, node_id: done.nodeId });
    }
    const node = core.mesh.confirmOutgoing(id);
    return c.json({ ok: true, node_id: node.node_id, node });
  });

  app.post('/admin/pairings/:id/reject', admin, (c) => {
    const id = c.req.param('id');
    if (core.pairing.pending.list().some((p) => p.pairing_id === id)) core.pairing.reject(id);
    else if (!core.mesh.rejectOutgoing(id)) {
      throw new ApiError(404, 'pairing_not_pending', 'No pairing is waiting for confirmation under that id (it may have expired).');
    }
    core.feed.changed();
    return c.json({ ok: true });
  });

  // Open admin sockets, oldest first: past maxAdminSockets the oldest is closed (a UI window that reloads
  // many times, or a local process holding sockets, cannot pile them up).
  const adminSockets = new Set<{ close(code?: number, reason?: string): void }>();

  // The auth middleware runs before the upgrade (@hono/node-server >= 2 upgrades through app.fetch).
  app.get(
    '/admin/events',
    admin,
    webSocketHandshakeGuard(),
    upgradeWebSocket(() => {
      let unsubscribe: (() => void) | undefined;
      let self: { close(code?: number, reason?: string): void } | undefined;
      return {
        onOpen(_evt, ws) {
          self = ws;
          adminSockets.add(ws);
          for (const old of adminSockets) {
            if (adminSockets.size <= core.limits.maxAdminSockets) break;
            adminSockets.delete(old);
            closeReplaced(old);
          }
          const send = (e: AdminEvent) => ws.send(JSON.stringify(e));
          send({ type: 'state', state: core.adminState() });
          unsubscribe = core.feed.subscribe((e) => {
            if (e.type === 'changed') send({ type: 'state', state: core.adminState() });
            else send(e);
          });
        },
        onClose() {
          if (self) adminSockets.delete(self);
          unsubscribe?.();
        },
      };
    }),
  );

  return app;
}
