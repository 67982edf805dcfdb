import { type Server, TUS_RESUMABLE } from '@tus/server';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { storedBytesResponse } from '../server/http/byte-range.js';
import {
  BLOB_UPLOADS_PATH,
  BLOBS_PATH,
  type BlobReceivedResponse,
  type IncomingBlobsResponse,
  OfferBlobRequest,
  type OfferBlobResponse,
} from '../shared/wire/cloud-blobs.js';
import type { AuthService } from './auth-service.js';
import type { CloudBlobStore } from './blob-store.js';
import { UPLOADERS } from './blob-uploads.js';
import { CloudError } from './errors.js';
import { type CloudEnv, readBody } from './http-env.js';
import { tusAsJson } from './tus-json.js';

export interface CloudBlobs {
  store: CloudBlobStore;
  tus: Server;
}

/** Requests whose body is blob bytes, streamed to disk by tus: the cloud's small JSON body limit is not for them. */
export const isBlobBytes = (method: string, path: string): boolean =>
  (method === 'POST' && path === BLOBS_PATH) || (method === 'PATCH' && path.startsWith(`${BLOB_UPLOADS_PATH}/`));

const unknownUpload = () =>
  new CloudError(404, 'blob_unknown', 'No such upload in this cloud (never made, cancelled, expired, or refused).');

export function mountBlobRoutes(
  app: Hono<CloudEnv>,
  d: { readonly auth: AuthService; readonly blobs: CloudBlobs },
  authed: MiddlewareHandler<CloudEnv>,
) {
  const node = async (c: Context) => (await d.auth.authenticate(c.req.header('authorization'))).deviceId;

  const viaTus = async (c: Context, me: string) => {
    const req = c.req.raw;
    UPLOADERS.set(req, me);
    return tusAsJson(await d.blobs.tus.handleWeb(req));
  };

  /** An upload of this node (404 / 403 otherwise), before tus sees the request. */
  const ownUpload = async (c: Context, me: string) => {
    const row = await d.blobs.store.upload(c.req.param('id') ?? '');
    if (!row) throw unknownUpload();
    if (row.node !== me) throw new CloudError(403, 'forbidden', 'This upload belongs to another node.');
    return row;
  };

  /** A verified upload, as tus would describe one whose every byte is in. */
  const wholeUpload = (size: number, status = 200) =>
    new Response(null, {
      status,
      headers: {
        'tus-resumable': TUS_RESUMABLE,
        'upload-offset': String(size),
        'upload-length': String(size),
        'cache-control': 'no-store',
      },
    });

  /**
   * tus HEAD: the offset to resume from. A verified upload is whole; one whose bytes are all in but not yet checked
   * (its last answer was lost, or the cloud stopped in between) is checked first, so a sender never takes an
   * upload for done that the cloud then throws away.
   */
  const offset = async (c: Context) => {
    const me = await node(c);
    const row = await ownUpload(c, me);
    if (row.completedAt !== null) return wholeUpload(row.size);
    const { store } = d.blobs;
    if (store.uploadedBytes(row.id) === row.size) {
      const r = await store.finish(row.id);
      if (r === 'complete') return wholeUpload(row.size);
      if (r !== 'partial') throw unknownUpload();
    }
    return viaTus(c, me);
  };

  app.post(BLOBS_PATH, async (c) => viaTus(c, await node(c)));
  // hono answers a HEAD with the GET routes of its path (none here): the offset query is caught on the way.
  app.use(`${BLOB_UPLOADS_PATH}/:id`, async (c, next) => {
    if (c.req.method === 'HEAD') return offset(c);
    await next();
  });
  // HEAD is listed here for the contract; a HEAD itself is answered by the middleware above.
  app.on(['HEAD', 'PATCH', 'DELETE'], `${BLOB_UPLOADS_PATH}/:id`, async (c) => {
    if (c.req.method === 'HEAD') return offset(c);
    const me = await node(c);
    const row = await ownUpload(c, me);
    if (c.req.method === 'DELETE' && row.completedAt !== null) {
      // A verified upload is a blob already: cancelling it withdraws what this upload delivered.
      await d.blobs.store.withdraw(row);
      return new Response(null, { status: 204, headers: { 'tus-resumable': TUS_RESUMABLE } });
    }
    return viaTus(c, me);
  });

  app.get(`${BLOBS_PATH}/incoming`, authed, async (c) =>
    c.json({ blobs: await d.blobs.store.incoming(c.get('principal').deviceId) } satisfies IncomingBlobsResponse),
  );

  app.put(`${BLOBS_PATH}/:sha256/recipients`, authed, async (c) => {
    const body = await readBody(c, OfferBlobRequest);
    await d.blobs.store.offer(c.get('principal').deviceId, c.req.param('sha256'), body);
    return c.json({ complete: true } satisfies OfferBlobResponse);
  });

  app.post(`${BLOBS_PATH}/:sha256/received`, authed, async (c) => {
    await d.blobs.store.received(c.get('principal').deviceId, c.req.param('sha256'));
    return c.json({ ok: true } satisfies BlobReceivedResponse);
  });

  app.get(`${BLOBS_PATH}/:sha256`, authed, async (c) => {
    const { store } = d.blobs;
    const sha256 = c.req.param('sha256');
    const blob = await store.readable(c.get('principal').deviceId, sha256);
    return storedBytesResponse(c.req.header('range'), blob.size, (start, end) => store.read(sha256, start, end), c.req.method === 'HEAD');
  });
}
