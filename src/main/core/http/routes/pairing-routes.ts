// /auth/pair/*: start (desktop UI only) and verify (the device that scanned the QR).
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { PairStartRequest, PairVerifyRequest } from '../../../../shared/wire/schemas.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { remoteAddress, requireAdmin, SESSION_COOKIE } from '../request-auth.js';

export function pairingRoutes(core: NodeCore): Hono {
  const app = new Hono();

  app.post('/start', requireAdmin(core.adminToken), async (c) => {
    const req = await readBody(c, PairStartRequest);
    return c.json(await core.pairing.start(req.address));
  });

  app.post('/verify', async (c) => {
    const req = await readBody(c, PairVerifyRequest);
    const outcome = core.pairing.verify(req, remoteAddress(c));
    core.feed.emit({ type: 'pairing_completed', code: outcome.code, node_id: outcome.nodeId, name: outcome.name });
    core.feed.changed();
    setCookie(c, SESSION_COOKIE, outcome.response.session_token, {
      httpOnly: true, sameSite: 'Strict', path: '/', maxAge: Math.floor(core.timings.sessionTtlMs / 1000),
    });
    return c.json(outcome.response);
  });

  return app;
}
