// A small `fetch` for the bench's phone-like clients: node:http with a keep-alive agent. undici's fetch costs
// the bench process ~1 ms of CPU per request on this machine, and on 2 shared cores the phones' CPU competes with
// the processes being measured. It implements only what DeviceClient uses (method, headers, a byte body;
// status and text()).
import http from 'node:http';

export function makeHttpFetch(maxSockets = 64): typeof fetch {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const f = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const body = init.body as Uint8Array | string | undefined;
      const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
      if (body !== undefined) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
      const req = http.request(
        { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? 'GET', headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              ok: (res.statusCode ?? 0) < 300,
              text: async () => text,
              json: async () => JSON.parse(text),
            } as Response);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.end(body);
      else req.end();
    });
  return f as typeof fetch;
}
