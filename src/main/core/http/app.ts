// The node's HTTP surface, assembled from route groups. Every failure leaves as JSON `{error, message}`.
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { MAX_PREKEY_PUBLISH_BODY_BYTES } from '../../../shared/wire/prekeys.js';
import { MAX_BODY_BYTES, MAX_MESSAGE_BODY_BYTES } from '../config.js';

const MESSAGE_POST_PATHS = new Set(['/api/messages', '/api/admin/messages']);
const PREKEY_PUT_PATHS = new Set(['/api/messages/prekeys', '/api/admin/messages/prekeys']);

import { CLIENT_ABORT_BODY, isClientAbort } from '../../../server/http/server-guards.js';
import { DomainError } from '../errors/domain-error.js';
import { ApiError } from './api-error.js';
import { domainErrorBody, statusOf } from './error-status.js';
import type { NodeCore } from './node-core.js';
import { adminRoutes } from './routes/admin-routes.js';
import { cloudRoutes } from './routes/cloud-routes.js';
import { deviceRoutes } from './routes/device-routes.js';
import { fileRoutes } from './routes/file-routes.js';
import { identityRoutes } from './routes/identity-routes.js';
import { messageRoutes } from './routes/message-routes.js';
import { prekeyRoutes } from './routes/prekey-routes.js';

const FILE_CHUNK_PATH = /^\/api\/(admin\/)?files\/[A-Za-z0-9_-]{22}$/;

import { openApiRoutes } from './routes/openapi-routes.js';
import { pairingRoutes } from './routes/pairing-routes.js';
import { peerLinkRoutes } from './routes/peer-link-routes.js';
import { staticRoutes } from './routes/static-routes.js';

export function createApp(core: NodeCore): Hono {
  const app = new Hono();

  app.use(
    '*',
    secureHeaders({
      crossOriginResourcePolicy: 'same-origin',
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        // data: for thumbnails and the QR code, blob: for a received image shown in the page (an object URL).
        imgSrc: ["'self'", 'data:', 'blob:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        connectSrc: ["'self'", 'ws:'],
        scriptSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  const limit = (maxSize: number): MiddlewareHandler => {
    const tooLarge = () => {
      throw new ApiError(413, 'payload_too_large', `Request bodies are limited to ${maxSize} bytes here.`);
    };
    const streaming = bodyLimit({ maxSize, onError: tooLarge });
    return (c, next) => {
      // The usual case decided from the headers alone: hono's bodyLimit touches the body stream, which makes
      // @hono/node-server build a full Request for every call (measurable per message). Node's HTTP parser
      // never hands over more bytes than a Content-Length says, so the header is the size. Chunked bodies
      // (no Content-Length) still go through the counting stream.
      if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
      const length = c.req.header('content-length');
      if (length !== undefined && c.req.header('transfer-encoding') === undefined) return Number(length) > maxSize ? tooLarge() : next();
      return streaming(c, next);
    };
  };
  const small = limit(MAX_BODY_BYTES);
  // A message is one envelope, which may be larger than any other body (64 KiB of plaintext, 32 recipients).
  const envelope = limit(MAX_MESSAGE_BODY_BYTES);
  // A device's prekey publish carries up to a hundred ML-KEM keys.
  const prekeys = limit(MAX_PREKEY_PUBLISH_BODY_BYTES);
  // A file chunk (tus PATCH) streams to disk; tus holds it to the upload's declared length.
  const isFileChunk = (c: Context) => c.req.method === 'PATCH' && FILE_CHUNK_PATH.test(c.req.path);
  const limitOf = (c: Context): MiddlewareHandler => {
    if (c.req.method === 'POST' && MESSAGE_POST_PATHS.has(c.req.path)) return envelope;
    if (c.req.method === 'PUT' && PREKEY_PUT_PATHS.has(c.req.path)) return prekeys;
    return small;
  };
  app.use('*', (c, next) => (isFileChunk(c) ? next() : limitOf(c)(c, next)));

  app.route('/auth/pair', pairingRoutes(core));
  app.route('/api', identityRoutes(core));
  app.route('/api', adminRoutes(core));
  app.route('/api', cloudRoutes(core));
  app.route('/api', deviceRoutes(core));
  app.route('/api', messageRoutes(core));
  app.route('/api', prekeyRoutes(core));
  app.route('/api', fileRoutes(core));
  app.route('/api', peerLinkRoutes(core));
  app.route('/', openApiRoutes());
  app.route('/', staticRoutes(core.rendererDir));

  app.notFound((c) => c.json({ error: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` }, 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.body(), err.status);
    if (err instanceof DomainError) return c.json(domainErrorBody(err), statusOf(err));
    if (isClientAbort(err)) {
      // The client hung up or broke the framing mid-body: its mistake, worth one quiet line at most.
      core.edgeLog.write('client_abort', 'debug', 'a request body could not be read', {
        path: c.req.path,
        code: (err as NodeJS.ErrnoException).code,
      });
      return c.json(CLIENT_ABORT_BODY, 400);
    }
    core.log.error({ err, path: c.req.path }, 'unhandled error in request');
    return c.json({ error: 'internal_error', message: 'The node hit an unexpected error; it was logged.' }, 500);
  });
  return app;
}
