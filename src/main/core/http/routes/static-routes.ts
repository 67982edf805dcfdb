// The desktop UI and the phone pairing page, built by electron-vite into out/renderer.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';

export function staticRoutes(rendererDir: string | undefined): Hono {
  const app = new Hono();
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
