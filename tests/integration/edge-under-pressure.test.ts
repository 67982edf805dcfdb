// The built headless node as a real process under pressure from outside: a flood of requests with broken
// framing or a client hanging up mid-body (its log stays small and has no error lines with stacks), and running
// out of file descriptors under a low `ulimit -n` (it keeps running, then serves again).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanupAll, eventually, tempDir } from '../helpers/test-node.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const live = new Set<ChildProcess>();
after(async () => {
  for (const c of live) c.kill('SIGKILL');
  await cleanupAll();
});

interface Child {
  port: number;
  stderr: () => string;
  exited: () => { code: number | null } | undefined;
  stop(): Promise<void>;
}

/** `out/main/headless.js` on a loopback port with its own data dir, under `ulimit -n` if given. */
async function startHeadless(opts: { ulimit?: number } = {}): Promise<Child> {
  assert.ok(existsSync(`${root}out/main/headless.js`), 'run `npm run build` first');
  const cmd = `${opts.ulimit ? `ulimit -n ${opts.ulimit}; ` : ''}exec "${process.execPath}" out/main/headless.js --data-dir "${tempDir()}" --port 0 --host 127.0.0.1 --no-mdns --no-pair`;
  const child = spawn('bash', ['-c', cmd], {
    cwd: root,
    env: { ...process.env, SALITA_LOG_LEVEL: 'debug', SALITA_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  let exit: { code: number | null } | undefined;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  child.once('exit', (code) => {
    exit = { code };
    live.delete(child);
  });
  const m = await eventually(
    () => (exit ? assert.fail(`node exited ${exit.code}: ${err.slice(-2000)}`) : /READY (\{.*\})/.exec(out)),
    'READY line',
    30_000,
  );
  return {
    port: (JSON.parse(m[1]!) as { port: number }).port,
    stderr: () => err,
    exited: () => exit,
    stop: async () => {
      if (exit) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

function send(port: number, text: string, hangUpAfterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => resolve());
    s.on('data', () => {});
    s.write(text);
    setTimeout(() => s.destroy(), hangUpAfterMs);
  });
}

test('1,000 requests with broken framing or a mid-body hangup: no error lines, no stacks, a bounded log', async () => {
  const node = await startHeadless();
  const before = node.stderr().length;
  const bad = [
    'POST /api/node/identity HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: identity\r\n\r\n{}',
    'POST /auth/pair/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    // A body that never finishes: the client hangs up mid-body, after the route started reading it.
    'POST /auth/pair/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"code":',
  ];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 1000; i++) {
    pending.push(send(node.port, bad[i % bad.length]!, 100));
    if (pending.length >= 50) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const res = await fetch(`http://127.0.0.1:${node.port}/api/node/identity`);
  assert.equal(res.status, 200);
  await node.stop();
  const lines = node
    .stderr()
    .slice(before)
    .split('\n')
    .filter((l) => l.trim() !== '');
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as { level: number; msg: string; err?: { stack?: string } };
    } catch {
      return { level: 60, msg: l };
    }
  });
  const loud = parsed.filter((p) => p.level >= 50 || p.err?.stack !== undefined || /unhandled error/.test(p.msg));
  assert.deepEqual(loud, [], 'no error-level lines and no stacks');
  assert.ok(lines.length <= 40, `${lines.length} log lines for 1,000 bad requests:\n${lines.slice(0, 10).join('\n')}`);
});

test('out of file descriptors: the node keeps running across interface-timer ticks, then serves again', async () => {
  const node = await startHeadless({ ulimit: 256 });
  const url = `http://127.0.0.1:${node.port}/api/node/identity`;
  assert.equal((await fetch(url)).status, 200);
  // One keep-alive connection opened before the pressure: it must still be served while new ones are refused.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set<number>();
  const overOpenConnection = () =>
    new Promise<number>((resolve, reject) => {
      get(url, { agent }, (res) => {
        ports.add(res.socket.localPort!);
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .setTimeout(20_000, () => reject(new Error('no answer')));
    });
  assert.equal(await overOpenConnection(), 200);
  const held: Socket[] = [];
  try {
    // Open connections until the node has no descriptor left for more (far beyond the 256 it may hold).
    for (let i = 0; i < 500; i++) {
      const s = connect(node.port, '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
    }
    await eventually(
      () => {
        const exit = node.exited();
        if (exit) assert.fail(`the node exited (code ${exit.code}) when out of descriptors:\n${node.stderr().slice(-2000)}`);
        return /interface check failed|out of file descriptors/.test(node.stderr());
      },
      'the node noticed it is out of descriptors',
      30_000,
    );
    // Several 3-second interface checks pass while every descriptor is taken; meanwhile the connection opened
    // before is used every 2 s (within the server's keep-alive timeout, so it stays the same connection).
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(node.exited(), undefined, `the node is still running:\n${node.stderr().slice(-2000)}`);
      assert.equal(await overOpenConnection(), 200, 'an open connection is still served');
    }
    assert.equal(ports.size, 1, 'every request went over the one connection opened before the pressure');
  } finally {
    for (const s of held) s.destroy();
    agent.destroy();
  }
  const res = await eventually(
    async () => {
      try {
        const r = await fetch(url);
        return r.status === 200 ? r : undefined;
      } catch {
        return undefined;
      }
    },
    'a normal request is served again',
    30_000,
  );
  assert.equal(res.status, 200);
  assert.equal(node.exited(), undefined);
  await node.stop();
});
