// Routes a paired device calls, every one signed (docs/protocol.md, "Signed requests"): announce itself,
// heartbeat, check or end its session, and hold a WebSocket for pushes.

import { upgradeWebSocket } from '@hono/node-server';
import { Hono } from 'hono';
import { webSocketHandshakeGuard } from '../../../../server/http/websocket-upgrade.js';
import type { DeviceHelloFrame } from '../../../../shared/wire/device-events.js';
import { AnnounceRequest, HeartbeatRequest } from '../../../../shared/wire/schemas.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { remoteAddress } from '../request-auth.js';
import { requireSignedSession, type SessionEnv } from '../signed-session-auth.js';

export function deviceRoutes(core: NodeCore): Hono<SessionEnv> {
  const app = new Hono<SessionEnv>();
  // Per route, not app.use('*'): mounted under /api, a catch-all would answer 401 for unknown /api paths.
  const session = requireSignedSession({ sessions: core.sessionsRepo, nonces: core.nonces, windowMs: core.timings.signatureWindowMs });

  app.post('/mesh/announce', session, async (c) => {
    const req = await readBody(c, AnnounceRequest);
    return c.json({ ok: true, node: core.mesh.announce(c.get('session').nodeId, req, remoteAddress(c)) });
  });

  app.post('/node/heartbeat', session, async (c) => {
    const req = await readBody(c, HeartbeatRequest);
    core.mesh.heartbeat(c.get('session').nodeId, req.addresses ?? [], remoteAddress(c));
    return c.json({ ok: true, desktop_node: core.desktopNode() });
  });

  app.get('/session', session, (c) => {
    const s = c.get('session');
    return c.json({ ok: true, node_id: s.nodeId, expires_at: new Date(s.expiresAt).toISOString(), desktop_node: core.desktopNode() });
  });

  /** The device ends its own session (it stays paired; it must pair again to get a new one). */
  app.post('/session/logout', session, (c) => {
    core.sessionsRepo.revoke(c.get('session').id);
    return c.json({ ok: true });
  });

  app.get(
    '/device/events',
    session,
    webSocketHandshakeGuard(),
    upgradeWebSocket((c) => {
      const s = c.get('session');
      let release: (() => void) | undefined;
      return {
        onOpen(_evt, ws) {
          release = core.deviceSockets.add(s.id, s.nodeId, ws);
          ws.send(JSON.stringify({ type: 'hello', node_id: s.nodeId, desktop_node: core.desktopNode() } satisfies DeviceHelloFrame));
        },
        onClose() {
          release?.();
        },
      };
    }),
  );

  return app;
}
