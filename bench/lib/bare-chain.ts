// The baseline of the message benches: sender --ws--> forwarder 1 --ws--> ... --ws--> forwarder N --ws--> receiver,
// each forwarder a process (bench/lib/relay-forwarder.ts) that sends the same bytes on: no parsing, no storage, no
// auth. Both ends are the bench process. N is the number of middle processes of the path it is compared with.
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Path } from './load.js';
import { REPO, spawnNode } from './procs.js';

export async function startBareChain(hops: number, name = 'bare ws chain'): Promise<Path> {
  if (!(hops >= 1)) throw new Error('a bare chain needs at least one forwarder');
  const hop = async (label: string, to?: number) => {
    const c = spawnNode(label, [
      '--import',
      'tsx',
      join(REPO, 'bench/lib/relay-forwarder.ts'),
      ...(to ? ['--to', `ws://127.0.0.1:${to}/`] : []),
    ]);
    return { c, port: Number((await c.waitFor(/^FORWARDER (\d+)$/, 60_000))[1]) };
  };
  // Started from the last hop back, so each one can connect to the next as it starts.
  const chain: { c: Awaited<ReturnType<typeof hop>>['c']; port: number }[] = [];
  for (let k = hops; k >= 1; k--) chain.unshift(await hop(`fwd${k}`, chain[0]?.port));
  const open = (url: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  const recv = await open(`ws://127.0.0.1:${chain.at(-1)!.port}/recv`);
  const sender = await open(`ws://127.0.0.1:${chain[0]!.port}/`);
  const path: Path = {
    name,
    middle: chain.map((h) => h.c),
    errors: new Map(),
    onReceive: () => {},
    onSendFailed: () => {},
    pendingSends: 0,
    lastReceiveAt: 0,
    send: (m) => sender.send(m.json),
    close: async () => {
      sender.close();
      recv.close();
      await Promise.all(chain.map((h) => h.c.stop()));
    },
  };
  recv.on('message', (data) => {
    const body = JSON.parse(String(data)) as { envelope: { id: string } };
    path.lastReceiveAt = performance.now();
    path.onReceive(body.envelope.id);
  });
  return path;
}
