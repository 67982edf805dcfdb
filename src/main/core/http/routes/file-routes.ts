// File routes (docs/files.md): a paired device (signed requests) or the desktop UI (admin token, as its device
// `<node_id>.ui`) uploads a file's ciphertext with tus, downloads what was sent to it with HTTP Range, and says
// when it has it. The node only ever holds ciphertext.
import { createHash } from 'node:crypto';
import type { Server } from '@tus/server';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { storedBytesResponse } from '../../../../server/http/byte-range.js';
import { tusRefusalAsJson } from '../../../../server/http/tus-json.js';
import { BLOB_ID, truncateTo } from '../../files/blob-store.js';
import type { FileService } from '../../files/file-service.js';
import { CALLERS } from '../../files/tus-uploads.js';
import { ApiError } from '../api-error.js';
import type { NodeCore } from '../node-core.js';
import { requireAdmin } from '../request-auth.js';
import { type DeclaredDigestEnv, requireSignedSession } from '../signed-session-auth.js';

/** Hands an authenticated request to tus; a PATCH's bytes are hashed as they stream and must match the signed digest. */
async function viaTus(c: Context, tus: Server, files: FileService, me: string, declared: string | undefined, needDigest: boolean) {
  let req = c.req.raw;
  let verdict: boolean | undefined;
  let start = -1;
  const id = c.req.param('id');
  if (req.method === 'PATCH') {
    if (needDigest && declared === undefined)
      throw new ApiError(400, 'invalid_request', 'A PATCH carries X-Content-SHA256: the hex SHA-256 of its body, signed in its place.');
    start = Number(c.req.header('upload-offset') ?? -1);
    if (req.body && declared !== undefined) {
      const hash = createHash('sha256');
      const checked = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          hash.update(chunk);
          out.enqueue(chunk);
        },
        flush(out) {
          verdict = hash.digest('hex') === declared;
          if (!verdict) out.error(new Error('body digest mismatch'));
        },
      });
      req = new Request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body.pipeThrough(checked),
        duplex: 'half',
      } as RequestInit);
    } else {
      verdict = true;
    }
  }
  CALLERS.set(req, { deviceId: me });
  const res = await tus.handleWeb(req);
  if (req.method === 'PATCH' && verdict !== true && id && BLOB_ID.test(id) && Number.isSafeInteger(start) && start >= 0) {
    // Only bytes whose digest checked out count: an unfinished or altered body is cut off again, so the resume
    // point (tus HEAD) is always the end of the last verified request.
    const row = files.store.get(id);
    if (row && row.fromDevice === me && row.completedAt === null) truncateTo(files.store.path(id), start);
    if (verdict === false)
      return c.json({ error: 'body_digest_mismatch', message: "The bytes received do not hash to the request's X-Content-SHA256." }, 400);
  }
  return tusRefusalAsJson(res);
}

export function fileRoutes(core: NodeCore): Hono {
  const app = new Hono();
  const files = core.files;
  const store = files.store;

  const blobFor = (c: Context, me: string) => {
    const id = c.req.param('id') ?? '';
    const row = BLOB_ID.test(id) ? store.get(id) : undefined;
    if (!row)
      throw new ApiError(
        404,
        'blob_unknown',
        'No such file on this node (never sent, cancelled, expired, or already fetched by everyone).',
      );
    const mine = store.recipients(id).some((r) => r.deviceId === me && r.route === 'local');
    if (!mine && row.fromDevice !== me) throw new ApiError(403, 'forbidden', 'This file is not for this device.');
    return { id, row, recipient: mine };
  };

  const mount = (prefix: string, auth: MiddlewareHandler, me: (c: Context) => string, tus: Server, needDigest: boolean) => {
    const declared = (c: Context) => (needDigest ? (c as unknown as Context<DeclaredDigestEnv>).get('declaredSha256') : undefined);
    const upload = (c: Context) => viaTus(c, tus, files, me(c), declared(c), needDigest);
    app.post(prefix, auth, upload);
    app.on(['HEAD', 'PATCH', 'DELETE'], `${prefix}/:id`, auth, upload);

    app.get(`${prefix}/:id`, auth, (c) => {
      // hono answers a HEAD with the GET route of its path: a HEAD is tus's offset query.
      if (c.req.method === 'HEAD') return upload(c);
      const { id, row } = blobFor(c, me(c));
      if (row.completedAt === null) {
        const received = store.received(id) ?? 0;
        return c.json({ error: 'blob_not_ready', message: 'The file is still on its way to this node.', received, size: row.size }, 409);
      }
      return storedBytesResponse(c.req.header('range'), row.size, (start, end) => store.read(id, start, end));
    });

    app.get(`${prefix}/:id/status`, auth, (c) => {
      const { id, row } = blobFor(c, me(c));
      return c.json({ id, size: row.size, received: store.received(id) ?? 0, complete: row.completedAt !== null });
    });

    app.post(`${prefix}/:id/received`, auth, (c) => {
      const who = me(c);
      const { id, recipient } = blobFor(c, who);
      if (!recipient) throw new ApiError(403, 'forbidden', 'Only a recipient says it has a file.');
      store.setRecipientState(id, [who], 'received');
      return c.json({ ok: true });
    });
  };

  const session = requireSignedSession({
    sessions: core.sessionsRepo,
    nonces: core.nonces,
    windowMs: core.timings.signatureWindowMs,
    body: 'declared',
  });
  mount('/files', session, (c) => (c as unknown as Context<DeclaredDigestEnv>).get('session').nodeId, files.deviceUploads, true);
  mount('/admin/files', requireAdmin(core.adminToken), () => core.messaging.uiDeviceId(), files.adminUploads, false);
  return app;
}
