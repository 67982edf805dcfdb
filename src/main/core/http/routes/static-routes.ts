// The desktop UI and the phone pairing page, built by electron-vite into out/renderer. The desktop UI is for
// this machine only (its API needs a loopback peer): a phone that opens the bare `http://<ip>:<port>/` is sent
// to the phone page instead of a desktop page that could never work there.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { type Context, Hono } from 'hono';
import { isLoopbackAddress } from '../../../../server/http/loopback.js';
import { remoteAddress } from '../request-auth.js';

const PHONE_PAGE = '/pair';

function fromAnotherMachine(c: Context): boolean {
  return !isLoopbackAddress(remoteAddress(c));
}

export function staticRoutes(rendererDir: string | undefined): Hono {
  const app = new Hono();
  app.get('/', async (c, next) => (fromAnotherMachine(c) ? c.redirect(PHONE_PAGE, 302) : next()));
  if (!rendererDir || !existsSync(join(rendererDir, 'index.html'))) {
    const msg = 'The Salita UI is not built (run `npm run build`); the API works without it.';
    app.get('/', (c) => c.text(msg, 503));
    app.get('/pair', (c) => c.text(msg, 503));
    return app;
  }
  const noCache = { 'cache-control': 'no-store' };
  app.get(
    '/',
    serveStatic({ root: rendererDir, path: 'index.html', onFound: (_p, c) => c.header('cache-control', noCache['cache-control']) }),
  );
  app.get(
    '/pair',
    serveStatic({ root: rendererDir, path: 'phone.html', onFound: (_p, c) => c.header('cache-control', noCache['cache-control']) }),
  );
  app.get('/assets/*', serveStatic({ root: rendererDir }));
  return app;
}
