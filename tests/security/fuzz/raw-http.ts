// Raw HTTP for the fuzz test: node:http for ordinary (but arbitrary) requests, node:net for broken framing.
import http from 'node:http';
import net from 'node:net';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on its own connection: a hang-up is then the server's answer to this request, not a stale socket. */
export function send(
  port: number,
  req: { method: string; path: string; headers?: Record<string, string>; body?: Uint8Array },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.path,
        agent: false,
        headers: { ...req.headers, ...(req.body ? { 'content-length': String(req.body.length) } : {}) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error('timed out')));
    r.on('error', reject);
    r.end(req.body ? Buffer.from(req.body) : undefined);
  });
}

/** Writes `bytes` on a fresh socket; `hangUp`: close right after writing (no answer expected). Else reads until close. */
export function rawExchange(port: number, bytes: Buffer, opts: { hangUp?: boolean } = {}): Promise<{ raw: Buffer; reply?: Reply }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(t);
      sock.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ raw, ...(parse(raw) ? { reply: parse(raw)! } : {}) });
    };
    // A server that keeps waiting for the rest of a broken body gets a second; a complete answer ends at once.
    const t = setTimeout(done, opts.hangUp ? 100 : 1_000);
    sock.on('data', (c) => {
      chunks.push(c);
      if (complete(Buffer.concat(chunks))) done();
    });
    sock.on('close', done);
    sock.on('error', () => {});
    sock.write(bytes, () => {
      if (opts.hangUp) setTimeout(done, 50);
    });
  });
}

function complete(raw: Buffer): boolean {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = raw.subarray(0, end).toString('latin1').toLowerCase();
  const cl = /\r\ncontent-length: *(\d+)/.exec(head);
  if (cl) return raw.length - end - 4 >= Number(cl[1]);
  if (/\r\ntransfer-encoding: *chunked/.test(head)) return raw.includes('\r\n0\r\n\r\n', end);
  return /^http\/1\.[01] (1\d\d|204|304)/.test(head);
}

function parse(raw: Buffer): Reply | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [line, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(line ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const out: Buffer[] = [];
    let rest = body;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const size = parseInt(rest.subarray(0, nl).toString(), 16);
      if (!size) break;
      out.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 4 + size);
    }
    body = Buffer.concat(out);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { status: Number(m[1]), headers, body };
}
