// A TCP proxy on loopback that passes bytes at a fixed rate each way: a slow link in a test, so that "kill the node
// while it uploads / downloads" happens while it does, on any machine. Not a timing assertion: nothing checks how
// long anything took.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ThrottleProxy {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Copies `from` to `to`, releasing each chunk once `bytesPerSecond` allows it (Infinity: as it comes). */
function throttled(from: Socket, to: Socket, bytesPerSecond: number): void {
  if (!Number.isFinite(bytesPerSecond)) {
    from.pipe(to);
    return;
  }
  let due = Date.now();
  from.on('data', (chunk: Buffer) => {
    from.pause();
    due = Math.max(due, Date.now()) + (chunk.length / bytesPerSecond) * 1000;
    setTimeout(
      () => {
        if (to.destroyed) return;
        if (to.write(chunk)) from.resume();
        else to.once('drain', () => from.resume());
      },
      Math.max(0, due - Date.now()),
    );
  });
}

/** `down`: bytes per second from the target to the client; `up`: from the client to the target. */
export async function throttleProxy(targetPort: number, rate: { down?: number; up?: number }): Promise<ThrottleProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    throttled(client, upstream, rate.up ?? Number.POSITIVE_INFINITY);
    throttled(upstream, client, rate.down ?? Number.POSITIVE_INFINITY);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
