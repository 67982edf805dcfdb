// HTTP Range for downloads of stored bytes (the node's files, the cloud's blobs): one range, `bytes=a-` or
// `bytes=a-b`, as resumable downloads send it. Several ranges or suffix ranges are not offered.
import { Readable } from 'node:stream';

/** undefined: no Range header (the whole body); 'bad': unsatisfiable or malformed (answer 416). */
export function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'bad' {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return 'bad';
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'bad';
  return { start, end };
}

/**
 * The answer to a GET of `size` stored bytes with an optional Range header: 200 with all of them, 206 with the
 * range, 416 (JSON `invalid_request`) for a range outside them. `read(start, end)` streams bytes [start, end);
 * `headOnly` answers the headers without a body. Nothing is held in memory.
 */
export function storedBytesResponse(
  rangeHeader: string | undefined,
  size: number,
  read: (start: number, end: number) => Readable,
  headOnly = false,
): Response {
  const range = parseByteRange(rangeHeader, size);
  if (range === 'bad')
    return new Response(JSON.stringify({ error: 'invalid_request', message: `Range: bytes=<start>-[<end>] within 0..${size - 1}.` }), {
      status: 416,
      headers: { 'content-type': 'application/json', 'content-range': `bytes */${size}` },
    });
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const length = size === 0 ? 0 : end - start + 1;
  const body = length === 0 || headOnly ? null : (Readable.toWeb(read(start, end + 1)) as ReadableStream);
  return new Response(body, {
    status: range ? 206 : 200,
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': String(length),
      'accept-ranges': 'bytes',
      'cache-control': 'no-store',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    },
  });
}
