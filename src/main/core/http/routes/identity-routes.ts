// Public: who this node is. Devices and other desktops read it before pairing.
import { Hono } from 'hono';
import type { NodeCore } from '../node-core.js';

export function identityRoutes(core: NodeCore): Hono {
  const app = new Hono();
  app.get('/node/identity', (c) => c.json(core.identityView()));
  return app;
}
