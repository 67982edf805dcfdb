// Routes a paired device calls with its session: announce itself, heartbeat, check its session.
import { Hono } from 'hono';
import { AnnounceRequest, HeartbeatRequest } from '../../../../shared/wire/schemas.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { remoteAddress, requireSession, type AppEnv } from '../request-auth.js';

export function deviceRoutes(core: NodeCore): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Per route, not app.use('*'): mounted under /api, a catch-all would answer 401 for unknown /api paths.
  const session = requireSession(core.sessionsRepo);

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

  return app;
}
