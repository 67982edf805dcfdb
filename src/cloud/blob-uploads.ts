// Resumable blob uploads by nodes: the tus protocol (@tus/server over @tus/file-store) into the blob store's
// uploads folder. The route authenticates the node first and hands the Request here with the node attached
// (UPLOADERS); tus's hooks check the metadata and the limits, record the upload, and at the last byte have the
// store hash it (a mismatch removes it and answers 400 blob_digest_mismatch). Refusals are tus errors whose body
// is the cloud's JSON `{error, message}`.
import { FileStore } from '@tus/file-store';
import { ERRORS, EVENTS, Server, type Upload } from '@tus/server';
import { BLOB_METADATA, BLOB_UPLOADS_PATH, BLOBS_PATH, BlobDelivery, BlobSha256 } from '../shared/wire/cloud-blobs.js';
import { type CloudBlobStore, newUploadId } from './blob-store.js';
import { CloudError } from './errors.js';
import type { Logger } from './log.js';

/** Which node sent a Request that the route hands to tus (set after the token check). */
export const UPLOADERS = new WeakMap<Request, string>();

/** The tus error shape, with the cloud's JSON body. */
export const refusal = (status: number, error: string, message: string) => ({
  status_code: status,
  body: JSON.stringify({ error, message }),
});
const fromCloudError = (err: CloudError) => ({ status_code: err.status, body: JSON.stringify(err.body()) });

function uploaderOf(req: Request): string {
  const node = UPLOADERS.get(req);
  if (!node) throw refusal(401, 'token_missing', 'Send `Authorization: Noise <token>`.');
  return node;
}

function metadataOf(upload: Upload): { sha256: string; delivery: BlobDelivery } {
  const m = upload.metadata ?? {};
  const sha256 = BlobSha256.safeParse(m[BLOB_METADATA.sha256]);
  if (!sha256.success)
    throw refusal(400, 'invalid_request', 'Upload-Metadata `sha256`: the hex SHA-256 (64 lowercase digits) of the whole ciphertext.');
  let to: unknown;
  try {
    to = JSON.parse(m[BLOB_METADATA.to] ?? '');
  } catch {
    throw refusal(400, 'invalid_request', 'Upload-Metadata `to`: JSON {"<node id>": ["<device id>", ...]}.');
  }
  const delivery = BlobDelivery.safeParse({ to, ref: m[BLOB_METADATA.ref], from: m[BLOB_METADATA.from] });
  if (!delivery.success)
    throw refusal(
      400,
      'invalid_request',
      `Upload-Metadata: ${delivery.error.issues.map((i) => `${i.path.join('.') || 'metadata'}: ${i.message}`).join('; ')}`,
    );
  return { sha256: sha256.data, delivery: delivery.data };
}

export function createBlobUploads(store: CloudBlobStore, log: Logger): Server {
  const server = new Server({
    path: BLOBS_PATH,
    datastore: new FileStore({ directory: store.uploadsDir }),
    // Each upload lives at /api/blobs/uploads/<id>: apart from /api/blobs/<sha256>, the blob it becomes.
    generateUrl: (_req, { id }) => `${BLOB_UPLOADS_PATH}/${id}`,
    namingFunction: () => newUploadId(),
    // The route withdraws a verified upload itself; tus only ever terminates a partial one.
    disableTerminationForFinishedUploads: false,
    onUploadCreate: async (req, upload) => {
      const node = uploaderOf(req);
      if (upload.size === undefined || upload.sizeIsDeferred)
        throw refusal(400, 'invalid_request', 'Upload-Length is required (the ciphertext size is known before the upload).');
      const { sha256, delivery } = metadataOf(upload);
      try {
        await store.checkRecipients(node, delivery.to);
        await store.checkRoom(node, upload.size);
      } catch (err) {
        if (err instanceof CloudError) throw fromCloudError(err);
        throw err;
      }
      await store.recordUpload(upload.id, node, { sha256, size: upload.size, ...delivery });
      return {};
    },
    onIncomingRequest: async (req, id) => {
      const node = uploaderOf(req);
      if (req.method === 'POST') return;
      const row = await store.upload(id);
      if (!row) throw refusal(404, 'blob_unknown', 'No such upload in this cloud (never made, cancelled, expired, or refused).');
      // Only the node that made an upload may see, extend or cancel it.
      if (row.node !== node) throw refusal(403, 'forbidden', 'This upload belongs to another node.');
      if (row.completedAt !== null) throw refusal(409, 'offset_mismatch', 'This upload is complete: nothing more goes into it.');
    },
    onUploadFinish: async (_req, upload) => {
      const r = await store.finish(upload.id);
      if (r === 'digest_mismatch')
        throw refusal(
          400,
          'blob_digest_mismatch',
          "The bytes stored do not hash to the upload's `sha256`: the upload was removed. Upload the blob again.",
        );
      if (r !== 'complete') throw refusal(404, 'blob_unknown', 'The upload went away before it could be checked.');
      return {};
    },
    onResponseError: (_req, err) => {
      // The file store reports any failed write as this one error; with the disk at its reserve it is a full disk.
      if (err === ERRORS.FILE_WRITE_ERROR && store.diskLow())
        return refusal(507, 'insufficient_storage', "The cloud's disk is full: the upload stopped where it was; resume it later.");
      // A tus error carries its status; anything else is ours to see.
      if (!('status_code' in err)) log.error({ err }, 'blob upload: unexpected error');
      return undefined;
    },
  });
  server.on(EVENTS.POST_TERMINATE, (_req, _res, id) => {
    store.removeUpload(id).catch((err: unknown) => log.error({ err, upload: id }, 'blob upload: removing a cancelled upload failed'));
  });
  return server;
}
