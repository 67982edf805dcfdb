// Resumable uploads of file ciphertext by this node's devices: the tus protocol (@tus/server) over the blob
// store's folder. The HTTP route authenticates the caller first and hands the Request here with the caller
// attached (CALLERS); tus's hooks check the limits, record the blob and its recipients, and mark it complete.
// Refusals are tus errors whose body is our usual JSON `{error, message}`.
import { EVENTS, Server } from '@tus/server';
import type { Upload } from '@tus/utils';
import type { NewRecipient } from '../db/blob-repository.js';
import { DomainError } from '../errors/domain-error.js';
import { statusOf } from '../http/error-status.js';
import { type BlobStore, newBlobId } from './blob-store.js';

/** Who sent a Request that the route hands to tus (set by the route after the signature or admin check). */
export const CALLERS = new WeakMap<Request, { deviceId: string }>();

export interface TusUploadsDeps {
  store: BlobStore;
  /** Where each recipient goes (throws DomainError unknown_recipient / cloud_not_linked). */
  planRecipients(to: string[]): NewRecipient[];
}

export const MAX_FILE_RECIPIENTS = 32;
const RECIPIENT = /^[A-Za-z0-9][A-Za-z0-9._:-]{2,127}$/;

/** The tus error shape, with our JSON body. */
const refusal = (status: number, error: string, message: string, details: Record<string, unknown> = {}) => ({
  status_code: status,
  body: JSON.stringify({ error, message, ...details }),
});
const fromDomain = (err: DomainError) => refusal(statusOf(err), err.code, err.message, err.details);

function callerOf(req: Request): string {
  const c = CALLERS.get(req);
  if (!c) throw refusal(401, 'unauthorized', 'Not authenticated.');
  return c.deviceId;
}

function recipientsFrom(upload: Upload): string[] {
  const raw = upload.metadata?.to;
  if (!raw) throw refusal(400, 'invalid_request', 'Upload-Metadata must name the recipients: `to` <comma-separated device ids>.');
  const to = [...new Set(raw.split(','))];
  if (to.length > MAX_FILE_RECIPIENTS || !to.every((id) => RECIPIENT.test(id)))
    throw refusal(400, 'invalid_request', `to: 1 to ${MAX_FILE_RECIPIENTS} device ids.`);
  return to;
}

export function createTusUploads(path: string, d: TusUploadsDeps): Server {
  const server = new Server({
    path,
    datastore: d.store.tusStore,
    relativeLocation: true,
    namingFunction: () => newBlobId(),
    // A finished upload is the sender's to withdraw too (the cancel of a file already on its way).
    disableTerminationForFinishedUploads: false,
    onUploadCreate: async (req, upload) => {
      const from = callerOf(req);
      if (upload.size === undefined)
        throw refusal(400, 'invalid_request', 'Upload-Length is required (the ciphertext size is known before the upload).');
      const to = recipientsFrom(upload);
      try {
        d.store.checkRoom(upload.size, from);
        const plan = d.planRecipients(to);
        d.store.recordUpload(upload.id, from, upload.size, plan);
      } catch (err) {
        if (err instanceof DomainError) throw fromDomain(err);
        throw err;
      }
      return {};
    },
    onIncomingRequest: async (req, uploadId) => {
      const from = callerOf(req);
      if (req.method === 'POST') return;
      const row = d.store.get(uploadId);
      if (!row) throw refusal(404, 'blob_unknown', 'No such upload on this node (never made, cancelled or expired).');
      // Only the device that made an upload may see, extend or cancel it.
      if (row.fromDevice !== from) throw refusal(403, 'forbidden', 'This upload belongs to another device.');
    },
    onUploadFinish: async (_req, upload) => {
      await d.store.finishUpload(upload.id);
      return {};
    },
  });
  server.on(EVENTS.POST_TERMINATE, (_req, _res, id) => void d.store.remove(id));
  return server;
}
