// tus (@tus/server) answers its own refusals in plain text (a missing Tus-Resumable, a malformed header, a wrong
// offset); every refusal of the cloud is JSON `{error, message}` with a stable code. Ours (thrown from the tus
// hooks) are JSON already and pass as they are; tus's own get the code their status means here.
import { CLOUD_ERROR_HEADER, type CloudErrorCode } from '../shared/wire/cloud.js';

/** tus's own text refusals: the status it answers with -> what it means for a blob upload (status, code). */
const TUS_REFUSALS: Record<number, [number, CloudErrorCode]> = {
  400: [400, 'invalid_request'],
  // tus says 403 for a PATCH without Upload-Offset or Content-Type: a malformed request, not a refused caller.
  403: [400, 'invalid_request'],
  404: [404, 'blob_unknown'],
  409: [409, 'offset_mismatch'],
  410: [404, 'blob_unknown'],
  412: [412, 'invalid_request'],
  413: [413, 'file_too_large'],
  415: [415, 'invalid_request'],
  // An extension the store does not offer (concatenation): the client asked for something this cloud does not do.
  501: [400, 'invalid_request'],
};

export async function tusAsJson(res: Response): Promise<Response> {
  if (res.status < 400) return res;
  const text = (await res.text()).trim();
  let body: { error?: unknown; message?: unknown } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  const ours = body !== undefined && typeof body.error === 'string' && typeof body.message === 'string';
  const [status, code] = ours
    ? [res.status, body!.error as string]
    : (TUS_REFUSALS[res.status] ?? (res.status >= 500 ? [500, 'internal_error'] : [400, 'invalid_request']));
  const headers = new Headers(res.headers);
  headers.set('content-type', 'application/json');
  headers.set(CLOUD_ERROR_HEADER, code);
  headers.delete('content-length');
  const json = ours ? body : { error: code, message: text || `HTTP ${res.status}` };
  return new Response(JSON.stringify(json), { status, headers });
}
