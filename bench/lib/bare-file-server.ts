// The baseline of bench/files.ts: a minimal node:http file server in its own process. No auth, no digest, no
// database, no tus: the same request shape as the node's upload (a create, then appends of N MiB at an offset)
// and one streamed GET, so both sides pay the same number of requests and the same disk writes and reads.
//   node --import tsx bench/lib/bare-file-server.ts --dir DIR
// Prints `BARE_FILES <port>`.
//   POST  /f                      an empty file (truncates an earlier one)
//   PATCH /f  Upload-Offset: N    the body appended at N, which must be the file's size (else 409); 204 + Upload-Offset
//   GET   /f                      the file, streamed
import { createReadStream, createWriteStream, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { dir: { type: 'string' } } });
if (!values.dir) throw new Error('--dir is required');
const file = join(values.dir, 'f');
const size = () => statSync(file).size;

const server = http.createServer((req, res) => {
  const fail = (status: number, why: string) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' }).end(why);
  };
  if (req.url !== '/f') return fail(404, 'only /f');
  if (req.method === 'POST') {
    writeFileSync(file, new Uint8Array(0));
    req.resume();
    return void res.writeHead(201, { location: '/f' }).end();
  }
  if (req.method === 'PATCH') {
    const offset = Number(req.headers['upload-offset']);
    if (offset !== size()) return fail(409, `offset is ${size()}`);
    pipeline(req, createWriteStream(file, { flags: 'r+', start: offset })).then(
      () => res.writeHead(204, { 'upload-offset': String(size()) }).end(),
      (err: Error) => fail(500, err.message),
    );
    return;
  }
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size()) });
    pipeline(createReadStream(file), res).catch(() => res.destroy());
    return;
  }
  fail(405, 'POST, PATCH or GET');
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`BARE_FILES ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
