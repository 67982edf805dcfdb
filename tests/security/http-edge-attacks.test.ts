// Attacks on the HTTP edge of the node and the cloud, over raw sockets (node:net) so nothing in between fixes
// the request up: DNS-rebinding Host headers against the admin API, WebSocket handshakes that are not one, and
// bodies with broken framing or a client that hangs up mid-body.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { isLoopbackHost } from '../../src/server/http/loopback.js';
import { cleanupAll, pairPhone, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';

after(cleanupAll);

/** Sends `text` as is and returns everything the server wrote before closing (or before `waitMs`). */
function raw(port: number, text: string, opts: { hangUpAfterMs?: number; waitMs?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      out += d;
    });
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.write(text);
    if (opts.hangUpAfterMs !== undefined) setTimeout(() => s.destroy(), opts.hangUpAfterMs);
    else setTimeout(() => s.destroy(), opts.waitMs ?? 5_000);
  });
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}
function parse(text: string): RawResponse {
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = (head ?? '').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = rest.join('\r\n\r\n');
  if (headers['transfer-encoding'] === 'chunked') body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
  return { status: Number(statusLine?.split(' ')[1]), headers, body };
}

function assertJsonError(r: RawResponse, statuses: number[], what: string): void {
  assert.ok(statuses.includes(r.status), `${what}: status ${r.status}, body ${r.body}`);
  const body = JSON.parse(r.body) as { error?: unknown; message?: unknown };
  assert.equal(typeof body.error, 'string', `${what}: ${r.body}`);
  assert.equal(typeof body.message, 'string', `${what}: ${r.body}`);
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

describe('DNS rebinding: the admin API answers only a literal loopback Host', () => {
  const hostile = [
    '127.evil.example',
    '127.0.0.1.nip.io',
    '127.1.2.3.4',
    '127.0.0.1.',
    'localhost.evil',
    'localhost.',
    'localhostx',
    '[::1].x',
    '[::1]x',
    '[::2]',
    '[::ffff:127.0.0.1]',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '127.1',
    '2130706433',
    '127.000.0.1',
    '127.0.0.256',
    'evil.example',
    'evil.example:80',
    '127.0.0.1:99999',
    '127.0.0.1:x',
    '127.0.0.1:',
    '127.0.0.1:80:80',
    '127.0.0.1@evil.example',
    'evil.example#127.0.0.1',
    '',
    ' ',
  ];
  const friendly = ['127.0.0.1', '127.0.0.1:4000', '127.1.2.3:65535', 'localhost', 'LOCALHOST:8080', '[::1]', '[::1]:4000'];

  test('the parser refuses every hostile name and takes every literal loopback', () => {
    for (const h of hostile) assert.equal(isLoopbackHost(h), false, h);
    for (const h of friendly) assert.equal(isLoopbackHost(h), true, h);
  });

  test('with the right admin token, a hostile Host gets 403 and a loopback one 200', async () => {
    const node = await startTestNode();
    const get = async (host: string) =>
      parse(
        await raw(
          node.port,
          `GET /api/admin/state HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Admin ${node.adminToken}\r\nConnection: close\r\n\r\n`,
        ),
      );
    for (const h of hostile.filter((x) => x.trim() !== '')) {
      const r = await get(h);
      // Node's own parser refuses some of these outright (400); the rest must meet the guard (403). Never 200.
      assert.ok(r.status === 403 || r.status === 400, `Host: ${h} got ${r.status}`);
      if (r.status === 403) assert.equal(JSON.parse(r.body).error, 'forbidden');
    }
    for (const h of friendly) assert.equal((await get(h)).status, 200, `Host: ${h}`);
  });
});

describe('WebSocket routes refuse a malformed handshake with a JSON 4xx', () => {
  let node: TestNode;
  let cloud: RunningCloud;
  let signedPath: () => string;
  const routes = () => [
    {
      name: 'node admin events',
      port: node.port,
      path: '/api/admin/events',
      auth: `Authorization: Admin ${node.adminToken}\r\n`,
      strict: true,
    },
    // With a signed URL of a paired phone (one per request: its nonce is single-use), and without one.
    { name: 'node device events (signed)', port: node.port, path: signedPath(), auth: '', strict: true },
    { name: 'node device events (unsigned)', port: node.port, path: '/api/device/events', auth: '', strict: false },
    // The cloud checks the handshake before anything else on /v1/noise; /v1/relay wants a token first.
    { name: 'cloud noise', port: cloud.port, path: '/v1/noise', auth: '', strict: true },
    { name: 'cloud relay', port: cloud.port, path: '/v1/relay', auth: '', strict: false },
  ];

  test('set up', async () => {
    node = await startTestNode();
    const { client } = await pairPhone(node);
    signedPath = () => {
      const u = new URL(client.webSocketUrl('/api/device/events'));
      return u.pathname + u.search;
    };
    cloud = await startCloud({ dataDir: tempDir(), port: 0, log: () => {} });
  });

  const cases: { what: string; headers: string }[] = [
    {
      what: 'Upgrade without Connection: Upgrade',
      headers: `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\nConnection: keep-alive\r\n`,
    },
    {
      what: 'Upgrade and no Connection header',
      headers: `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n`,
    },
    { what: 'missing key', headers: 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' },
    { what: 'bad key', headers: 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: abc\r\n' },
    {
      what: 'wrong version',
      headers: `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: ${KEY}\r\n`,
    },
    { what: 'missing version', headers: `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` },
  ];

  for (const c of cases) {
    test(c.what, async () => {
      for (const r of routes()) {
        const res = parse(await raw(r.port, `GET ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${r.auth}${c.headers}\r\n`, { waitMs: 1_500 }));
        assertJsonError(res, [400, 401, 426], `${r.name}, ${c.what}`);
        // Where the credentials are right (or none are needed), the refusal names the handshake problem itself.
        if (r.strict) assert.ok([400, 426].includes(res.status), `${r.name}, ${c.what}: ${res.status}`);
      }
    });
  }

  test('a well-formed handshake still opens the cloud noise socket', async () => {
    const text = await raw(
      cloud.port,
      `GET /v1/noise HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`,
      { waitMs: 500 },
    );
    assert.match(text, /^HTTP\/1\.1 101 /);
  });

  test('tear down', async () => {
    await cloud.stop();
  });
});

describe("bad framing and hangups are the client's mistake: a 400 JSON, never an error log", () => {
  const framing = (path: string, extra = '') => [
    {
      what: 'Transfer-Encoding: identity',
      text: `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Transfer-Encoding: identity\r\nContent-Type: application/json\r\n\r\n{}`,
    },
    {
      what: 'a bad chunk size',
      text: `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    },
    {
      what: 'a chunk longer than it said',
      text: `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n1\r\n{}}}\r\n0\r\n\r\n`,
    },
  ];

  test('the cloud answers 400 JSON and logs a flood of 1,000 in a bounded number of lines without stacks', async () => {
    const lines: string[] = [];
    const cloud = await startCloud({ dataDir: tempDir(), port: 0, log: (m) => lines.push(m) });
    try {
      for (const f of framing('/api/auth/challenge')) assertJsonError(parse(await raw(cloud.port, f.text)), [400], f.what);
      const flood: Promise<string>[] = [];
      for (let i = 0; i < 1000; i++) {
        flood.push(
          i % 2 === 0
            ? raw(cloud.port, framing('/api/auth/challenge')[1]!.text)
            : raw(
                cloud.port,
                'POST /api/auth/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"device_id":',
                { hangUpAfterMs: 50 },
              ),
        );
        if (flood.length >= 50) await Promise.all(flood.splice(0));
      }
      await Promise.all(flood);
      const health = await fetch(`${cloud.url}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(
        !lines.some((l) => /unhandled error|\n\s+at /.test(l)),
        `no unhandled-error lines or stacks:\n${lines.slice(0, 5).join('\n')}`,
      );
      assert.ok(lines.length <= 30, `${lines.length} log lines for 1,000 bad requests`);
    } finally {
      await cloud.stop();
    }
  });

  test('the node answers 400 JSON to bad framing', async () => {
    const node = await startTestNode();
    for (const f of framing('/auth/pair/start', `Authorization: Admin ${node.adminToken}\r\n`)) {
      assertJsonError(parse(await raw(node.port, f.text)), [400], f.what);
    }
    assert.equal((await node.admin('/api/admin/state')).status, 200);
  });
});
