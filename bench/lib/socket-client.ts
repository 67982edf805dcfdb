// Child of bench/device-sockets.ts: opens many authenticated device WebSockets (each a signed upgrade with its
// own nonce, as the phone page does) and holds them, so the client's memory and CPU stay out of the node's
// figures. Driven over IPC:
//   -> {type:'open', base, devices:[{sessionId, secret}], perDevice, concurrency}
//   <- {type:'progress', open, failed} ... {type:'opened', open, failed, errors, ms}
//   -> {type:'check'}  <- {type:'status', open, closed, hellos}
//   -> {type:'close'}  <- {type:'closed'}
import WebSocket from 'ws';
import { NODE_SHA256 } from '../../src/server/crypto/node-noise.js';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { fromBase64Url } from '../../src/shared/encoding.js';

interface OpenCmd {
  type: 'open';
  base: string;
  devices: { sessionId: string; secret: string }[];
  perDevice: number;
  total?: number;
  concurrency: number;
}
type Cmd = OpenCmd | { type: 'check' } | { type: 'close' };

const sockets: WebSocket[] = [];
let hellos = 0;
const send = (m: unknown) => process.send!(m);

function openOne(client: DeviceClient): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(client.webSocketUrl('/api/device/events'), { perMessageDeflate: false, handshakeTimeout: 60_000 });
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(new Error(why));
    };
    ws.once('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
    ws.once('error', (err) => fail((err as NodeJS.ErrnoException).code ?? err.message));
    ws.once('close', (code) => fail(`closed ${code} before hello`));
    ws.once('message', (data) => {
      const m = JSON.parse(String(data)) as { type?: string };
      if (m.type !== 'hello') return fail(`first frame was ${m.type}`);
      settled = true;
      hellos++;
      ws.removeAllListeners('close');
      ws.removeAllListeners('error');
      ws.on('error', () => {
        /* counted by readyState in 'check' */
      });
      resolve(ws);
    });
  });
}

async function openAll(cmd: OpenCmd): Promise<void> {
  const clients = cmd.devices.map(
    (d) => new DeviceClient(cmd.base, { sessionId: d.sessionId, deviceSecret: fromBase64Url(d.secret) }, { sha256: NODE_SHA256 }),
  );
  const total = cmd.total ?? clients.length * cmd.perDevice;
  let next = 0,
    open = 0,
    failed = 0;
  const errors: Record<string, number> = {};
  const t0 = performance.now();
  let lastReport = t0;
  await Promise.all(
    Array.from({ length: Math.min(cmd.concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        try {
          sockets.push(await openOne(clients[i % clients.length]!));
          open++;
        } catch (err) {
          failed++;
          const why = (err as Error).message;
          errors[why] = (errors[why] ?? 0) + 1;
        }
        if (performance.now() - lastReport > 1000) {
          lastReport = performance.now();
          send({ type: 'progress', open, failed });
        }
      }
    }),
  );
  send({ type: 'opened', open, failed, errors, ms: performance.now() - t0 });
}

process.on('message', (cmd: Cmd) => {
  if (cmd.type === 'open') void openAll(cmd);
  else if (cmd.type === 'check') {
    const open = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
    send({ type: 'status', open, closed: sockets.length - open, hellos });
  } else if (cmd.type === 'close') {
    for (const s of sockets) s.terminate();
    sockets.length = 0;
    send({ type: 'closed' });
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
