// One hop of bench/relay.ts's baseline: a bare `ws` forwarder, no parsing, no storage.
//   node --import tsx bench/lib/relay-forwarder.ts [--to ws://127.0.0.1:P/]
// Listens on a free loopback port and prints `FORWARDER <port>`. Every message from a connection (other than a
// sink) is sent, as the same bytes, to `--to` (one client connection to the next hop) or, on the last hop, to
// every sink: a connection made to the path /recv (the receiving phone).
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';

const { values } = parseArgs({ options: { to: { type: 'string' } } });
const sinks = new Set<WebSocket>();
let next: WebSocket | undefined;

if (values.to) {
  next = new WebSocket(values.to, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    next!.once('open', resolve);
    next!.once('error', reject);
  });
  next.on('close', () => process.exit(0));
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws, req) => {
  if (req.url === '/recv') {
    sinks.add(ws);
    ws.on('close', () => sinks.delete(ws));
    return;
  }
  ws.on('message', (data, isBinary) => {
    if (next) next.send(data, { binary: isBinary });
    else for (const s of sinks) s.send(data, { binary: isBinary });
  });
});
await new Promise<void>((resolve) => wss.once('listening', resolve));
process.stdout.write(`FORWARDER ${(wss.address() as { port: number }).port}\n`);
process.on('SIGTERM', () => process.exit(0));
