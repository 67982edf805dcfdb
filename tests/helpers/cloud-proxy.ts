// An HTTP proxy on loopback in front of a cloud, for a test that plays a cloud lying to one node: each request
// goes to the cloud `route` picks (a forked copy, say), and `rewrite` may change a JSON answer on its way back.
// WebSocket upgrades (the relay) pass through untouched to the route's cloud.
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface CloudProxy {
  url: string;
  /** Which cloud port a request goes to (default: the first). */
  route: (method: string, path: string) => number;
  /** Changes a JSON answer (null: as it came). */
  rewrite: (method: string, path: string, body: any) => any | null;
  close(): Promise<void>;
}

export async function cloudProxy(targetPort: number): Promise<CloudProxy> {
  const sockets = new Set<Socket>();
  const proxy: CloudProxy = {
    url: '',
    route: () => targetPort,
    rewrite: () => null,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    const up = request(
      { host: '127.0.0.1', port: proxy.route(method, path), method, path: req.url, headers: req.headers },
      (answer: IncomingMessage) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          let body = Buffer.concat(chunks);
          const headers = { ...answer.headers };
          if (String(headers['content-type'] ?? '').includes('application/json')) {
            const changed = proxy.rewrite(method, path, JSON.parse(body.toString('utf8')));
            if (changed !== null && changed !== undefined) body = Buffer.from(JSON.stringify(changed));
          }
          delete headers['transfer-encoding'];
          headers['content-length'] = String(body.length);
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    up.on('error', () => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":"bad_gateway"}');
    });
    req.pipe(up);
  });
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const upstream = connect(proxy.route(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!), '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.on('connect', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  proxy.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return proxy;
}
