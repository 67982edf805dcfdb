// Public: who this node is, and every address it can be paired under. Devices and other desktops read it before pairing.
import { Hono } from 'hono';
import type { NodeCore } from '../node-core.js';

export function identityRoutes(core: NodeCore): Hono {
  const app = new Hono();
  app.get('/node/identity', (c) => c.json(core.identityView()));
  // The phone page lists these so the person can try another address when the one in the QR does not work.
  app.get('/node/addresses', (c) => c.json({ urls: core.addressUrls() }));
  return app;
}
