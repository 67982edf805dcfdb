// GET /api/openapi.json (public): the node's HTTP contract as OpenAPI 3.1 (http/contract/node-contract.ts).
import { Hono } from 'hono';
import { appVersion } from '../../../../server/app-root.js';
import { nodeOpenApiDocument, OPENAPI_PATH } from '../contract/node-contract.js';

export function openApiRoutes(): Hono {
  const app = new Hono();
  // Built on the first call, not at start: most runs never serve it.
  let doc: Record<string, unknown> | undefined;
  app.get(OPENAPI_PATH, (c) => {
    doc ??= nodeOpenApiDocument(appVersion());
    return c.json(doc);
  });
  return app;
}
