// tus (@tus/server) answers its own refusals in plain text (a missing Tus-Resumable, a malformed header, a wrong
// offset); every refusal of the node and of the cloud is JSON `{error, message}` with a stable code. Refusals
// thrown from the tus hooks are JSON already and pass as they are; tus's own get the status and code the caller's
// table gives their status (a 5xx not in it stays a 500 internal_error, anything else a 400 invalid_request).

export type TusRefusals = Record<number, readonly [status: number, code: string]>;

/** What tus's own refusals mean for an upload of stored bytes (a node's file, the cloud's blob). */
export const TUS_REFUSALS: TusRefusals = {
  400: [400, 'invalid_request'],
  // tus says 403 for a PATCH without Upload-Offset or Content-Type: a malformed request, not a refused caller
  // (callers are refused by our own hooks, in JSON).
  403: [400, 'invalid_request'],
  404: [404, 'blob_unknown'],
  409: [409, 'offset_mismatch'],
  410: [404, 'blob_unknown'],
  412: [412, 'invalid_request'],
  413: [413, 'file_too_large'],
  415: [415, 'invalid_request'],
  // An extension the store does not offer (Upload-Concat, …): the client asked for something not done here.
  501: [400, 'invalid_request'],
};

export async function tusRefusalAsJson(
  res: Response,
  refusals: TusRefusals = TUS_REFUSALS,
  extraHeaders: (code: string) => Record<string, string> = () => ({}),
): Promise<Response> {
  if (res.status < 400) return res;
  const text = (await res.text()).trim();
  let body: { error?: unknown; message?: unknown } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  const ours = body !== undefined && typeof body.error === 'string';
  const [status, code] = ours
    ? [res.status, body!.error as string]
    : (refusals[res.status] ?? (res.status >= 500 ? [500, 'internal_error'] : [400, 'invalid_request']));
  const headers = new Headers(res.headers);
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  for (const [k, v] of Object.entries(extraHeaders(code))) headers.set(k, v);
  const json = ours ? body : { error: code, message: text || `HTTP ${res.status}` };
  return new Response(JSON.stringify(json), { status, headers });
}
