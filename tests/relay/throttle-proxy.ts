// A TCP proxy on loopback that passes bytes from the target back to the client at a fixed rate: a slow download
// link in a test, so that "kill the node while it downloads" happens while it downloads, on any machine.
// Bytes toward the target pass unthrottled. Not a timing assertion: nothing checks how long anything took.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ThrottleProxy {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function throttleProxy(targetPort: number, bytesPerSecond: number): Promise<ThrottleProxy> {
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
    client.pipe(upstream);
    // Each upstream chunk is released once the rate allows it: pause upstream until then.
    let due = Date.now();
    upstream.on('data', (chunk: Buffer) => {
      upstream.pause();
      due = Math.max(due, Date.now()) + (chunk.length / bytesPerSecond) * 1000;
      setTimeout(
        () => {
          if (client.destroyed) return;
          const ok = client.write(chunk);
          if (ok) upstream.resume();
          else client.once('drain', () => upstream.resume());
        },
        Math.max(0, due - Date.now()),
      );
    });
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
