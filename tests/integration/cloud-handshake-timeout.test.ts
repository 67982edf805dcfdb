// A cloud that takes the WebSocket upgrade of /v1/noise and then never answers the handshake: the node's login
// gives up after its handshake timeout, and the socket it opened is closed then, not left hanging on the cloud
// (one more each time a person presses "log in" again).

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { cleanupAll, eventually, startTestNode } from '../helpers/test-node.js';

/** Accepts every upgrade and stays silent; counts the TCP connections that are still open. */
async function silentCloud(): Promise<{ url: string; upgrades: () => number; open: () => number; stop(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ server, path: '/v1/noise' });
  let upgrades = 0;
  wss.on('connection', () => {
    upgrades++;
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    upgrades: () => upgrades,
    open: () => sockets.size,
    stop: async () => {
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('cloud login: a handshake that times out', () => {
  after(cleanupAll);

  it('is refused as unreachable, and its socket to the cloud is closed', async () => {
    const cloud = await silentCloud();
    try {
      const node = await startTestNode({ cloud: { handshakeTimeoutMs: 300 } });
      const r = await node.admin('/api/admin/cloud/login', { body: { url: cloud.url, email: 'home@salita.test' } });
      assert.equal(r.status, 424, JSON.stringify(r.body));
      assert.equal(r.body.error, 'cloud_unreachable', JSON.stringify(r.body));
      assert.equal(cloud.upgrades(), 1, 'the node got as far as the WebSocket upgrade');
      // The node is still running: only the timed-out handshake's socket may go.
      await eventually(() => cloud.open() === 0, 'the timed-out handshake socket closed on the cloud side', 10_000);
    } finally {
      await cloud.stop();
    }
  });
});
