// /auth/pair/*: start (desktop UI only) and verify (the device that scanned the QR, or another desktop).
import { Hono } from 'hono';
import { PairStartRequest, PairVerifyRequest } from '../../../../shared/wire/schemas.js';
import type { NodeCore } from '../node-core.js';
import { readBody } from '../read-body.js';
import { remoteAddress, requireAdmin } from '../request-auth.js';

export function pairingRoutes(core: NodeCore): Hono {
  const app = new Hono();

  app.post('/start', requireAdmin(core.adminToken), async (c) => {
    const req = await readBody(c, PairStartRequest);
    return c.json(await core.pairing.start(req.address));
  });

  app.post('/verify', async (c) => {
    const req = await readBody(c, PairVerifyRequest);
    const outcome = core.pairing.verify(req, remoteAddress(c));
    if (outcome.pending) {
      core.feed.emit({ type: 'pairing_confirmation', pairing: outcome.pending });
    } else {
      core.feed.emit({ type: 'pairing_completed', code: outcome.code, node_id: outcome.nodeId, name: outcome.name });
    }
    core.feed.changed();
    return c.json({ noise: outcome.noise });
  });

  return app;
}
