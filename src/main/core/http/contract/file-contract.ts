// Contract of routes/file-routes.ts: tus uploads (creation, offset, append, cancel), ranged downloads, progress
// and "I have it", for a paired device (signed) and for the desktop UI as its device (admin), mounted at /api.
import { z } from 'zod';
import {
  type ContractOperation,
  type ErrorCodes,
  fromEndpoint,
  mergeErrors,
  type Security,
} from '../../../../server/http/openapi-contract.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { ADMIN_AUTH, BODY_LIMIT, SIGNED_GET } from './common-errors.js';

const IdParam = z.object({ id: z.string() });
/** What a blob route answers besides auth: no such blob, not this device's. */
const BLOB: ErrorCodes = { 404: ['blob_unknown'], 403: ['forbidden'] };
/** tus's own checks on every request but a download: Tus-Resumable present (412), tus headers well-formed (400). */
const TUS: ErrorCodes = { 400: ['invalid_request'], 412: ['invalid_request'] };
/** Creation refusals (limits, recipients, tus header checks). */
const CREATE: ErrorCodes = {
  400: ['invalid_request', 'unknown_recipient', 'cloud_not_linked'],
  413: ['file_too_large', 'quota_exceeded'],
  507: ['insufficient_storage'],
};
const APPEND: ErrorCodes = {
  400: ['invalid_request', 'body_digest_mismatch'],
  409: ['offset_mismatch'],
  413: ['file_too_large'],
  415: ['invalid_request'],
};

function fileOperations(
  who: Security,
  prefix: string,
  idPrefix: string,
  auth: { get: ErrorCodes; other: ErrorCodes },
): ContractOperation[] {
  const by = who === 'device' ? 'the calling device' : "the desktop UI's device";
  const status = who === 'device' ? NODE_ENDPOINTS.fileStatus : NODE_ENDPOINTS.adminFileStatus;
  const received = who === 'device' ? NODE_ENDPOINTS.fileReceived : NODE_ENDPOINTS.adminFileReceived;
  return [
    {
      operationId: `${idPrefix}Create`,
      method: 'post',
      path: `${prefix}/files`,
      security: who,
      summary: `tus creation: a file's ciphertext from ${by}, Upload-Length bytes, Upload-Metadata \`to\` the recipients.`,
      success: { status: 201, description: 'Created; Location names the upload.' },
      errors: mergeErrors(auth.other, TUS, CREATE),
    },
    {
      operationId: `${idPrefix}Offset`,
      method: 'head',
      path: `${prefix}/files/:id`,
      security: who,
      params: IdParam,
      summary: 'tus: how many bytes of this upload the node holds (Upload-Offset).',
      success: { status: 200, description: 'Upload-Offset and Upload-Length headers.' },
      errors: mergeErrors(auth.get, TUS, BLOB),
    },
    {
      operationId: `${idPrefix}Append`,
      method: 'patch',
      path: `${prefix}/files/:id`,
      security: who,
      params: IdParam,
      summary:
        who === 'device'
          ? 'tus: append bytes at Upload-Offset; signed with X-Content-SHA256 in place of the body, checked as it streams.'
          : 'tus: append bytes at Upload-Offset.',
      success: { status: 204, description: 'Appended; Upload-Offset is the new length.' },
      errors: mergeErrors(auth.other, TUS, BLOB, APPEND),
    },
    {
      operationId: `${idPrefix}Cancel`,
      method: 'delete',
      path: `${prefix}/files/:id`,
      security: who,
      params: IdParam,
      summary: 'tus termination: the sender withdraws the file (bytes and deliveries go).',
      success: { status: 204, description: 'Gone.' },
      errors: mergeErrors(auth.other, TUS, BLOB),
    },
    {
      operationId: `${idPrefix}Download`,
      method: 'get',
      path: `${prefix}/files/:id`,
      security: who,
      params: IdParam,
      summary: `The ciphertext of a file sent to ${by} (or by it); Range: bytes=a-[b] answers 206.`,
      success: { status: 200, description: 'The ciphertext (206 for a range).', contentType: 'application/octet-stream' },
      errors: mergeErrors(auth.get, BLOB, { 409: ['blob_not_ready'], 416: ['invalid_request'] }),
    },
    fromEndpoint(status, {
      operationId: `${idPrefix}Status`,
      security: who,
      params: IdParam,
      summary: 'How much of the file this node holds.',
      success: { status: 200, description: 'Its size, what is here, complete or not.' },
      errors: mergeErrors(auth.get, BLOB),
    }),
    fromEndpoint(received, {
      operationId: `${idPrefix}Received`,
      security: who,
      params: IdParam,
      summary: `${by} has the whole file: the node may let it go once everyone has.`,
      success: { status: 200, description: 'Noted.' },
      errors: mergeErrors(auth.other, BLOB),
    }),
  ];
}

export const FILE_OPERATIONS: readonly ContractOperation[] = [
  ...fileOperations('device', '/api', 'file', {
    get: SIGNED_GET,
    other: mergeErrors(SIGNED_GET, BODY_LIMIT, { 400: ['invalid_request'] }),
  }),
  ...fileOperations('admin', '/api/admin', 'adminFile', {
    get: ADMIN_AUTH,
    other: mergeErrors(ADMIN_AUTH, BODY_LIMIT),
  }),
];
