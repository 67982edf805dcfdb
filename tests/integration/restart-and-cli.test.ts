// Restarts keep identity, mesh and sessions; a broken identity stops the node with a clear error; the
// headless CLI starts, reports a taken port, and shuts down cleanly on SIGTERM/SIGINT.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startNode } from '../../src/main/core/node.js';
import { cleanupAll, makePhone, pairingRefused, pairPhone, startTestNode, tempDir } from '../helpers/test-node.js';

after(cleanupAll);

describe('restart', () => {
  test('keeps the identity, the mesh and device sessions', async () => {
    const dataDir = tempDir();
    const first = await startTestNode({ dataDir });
    const p = await first.startPairing();
    const { stubborn } = await pairPhone(first, { start: p, phone: makePhone('Survivor') });
    await first.stop();

    const second = await startTestNode({ dataDir });
    assert.equal(second.identity.node_id, first.identity.node_id);
    assert.equal(second.identity.public_key, first.identity.public_key);
    assert.equal(second.identity.fingerprint, first.identity.fingerprint);
    const state = await second.admin('/api/admin/state');
    assert.deepEqual(
      state.body.devices.map((d: any) => d.name),
      ['Survivor'],
    );
    const hb = await stubborn(second.base).request('POST', '/api/node/heartbeat', {});
    assert.equal(hb.status, 200, 'the stored (encrypted) verification key still checks signatures');
    await pairingRefused(pairPhone(second, { start: p }), 'code_used');
  });

  test('a corrupt identity file is a startup error naming the file, and the file is left alone', async () => {
    const dataDir = tempDir();
    const node = await startTestNode({ dataDir });
    await node.stop();
    const file = join(dataDir, 'identity.json');
    writeFileSync(file, '{"version": 1, "node_id": ');
    await assert.rejects(
      startNode({ dataDir, port: 0, host: '127.0.0.1' }),
      (err: Error) => err.message.includes(file) && /not valid JSON/.test(err.message),
    );
    assert.equal(readFileSync(file, 'utf8'), '{"version": 1, "node_id": ');
  });
});

function runCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/headless.ts', ...args], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, SALITA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<{ port: number; node_id: string }>((resolve, reject) => {
    const onData = () => {
      const m = /READY (\{.*\})/.exec(stdout);
      if (m) resolve(JSON.parse(m[1]!));
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code} before READY:\n${stdout}\n${stderr}`)));
  });
  // Tests that expect an early exit never await `ready`; don't let its rejection count as unhandled.
  ready.catch(() => undefined);
  return { child, ready, exited, out: () => stdout, err: () => stderr };
}

describe('headless CLI', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`prints the admin URL, QR, PIN and URL, and stops cleanly on ${signal}`, async () => {
      const cli = runCli(['--data-dir', tempDir(), '--port', '0', '--no-mdns']);
      const { port } = await cli.ready;
      const out = cli.out();
      assert.match(out, /Desktop UI: +http:\/\/127\.0\.0\.1:\d+\/#admin=[A-Za-z0-9_-]{43}/);
      assert.match(out, /PIN: +\d{6}/);
      assert.match(out, /URL: +http:\/\/[^ ]+\/pair\?code=[0-9a-f-]{36}&fp=[A-Z2-7]{16}/);
      const ident = (await (await fetch(`http://127.0.0.1:${port}/api/node/identity`)).json()) as any;
      assert.match(ident.node_id, /^node-/);
      cli.child.kill(signal);
      assert.equal(await cli.exited, 0);
      assert.match(cli.err(), /node stopped/, 'server, mDNS and database were closed');
    });
  }

  test('a taken port: the next free one is used and said; --strict-port fails with a clear message', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '0.0.0.0', r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const cli = runCli(['--data-dir', tempDir(), '--port', String(taken), '--no-mdns', '--no-pair']);
      const { port } = await cli.ready;
      assert.notEqual(port, taken);
      assert.match(cli.out(), new RegExp(`port ${taken} was taken`));
      cli.child.kill('SIGTERM');
      await cli.exited;

      const strict = runCli(['--data-dir', tempDir(), '--port', String(taken), '--strict-port', '--no-mdns']);
      await assert.rejects(strict.ready);
      assert.equal(await strict.exited, 1);
      assert.match(strict.err(), new RegExp(`Port ${taken} is already in use`));
    } finally {
      blocker.close();
    }
  });

  test('bad arguments exit 2 with usage', async () => {
    const cli = runCli(['--port', 'abc', '--no-mdns']);
    assert.equal(await cli.exited, 2);
    assert.match(cli.err(), /--port must be a whole number/);
    const unknown = runCli(['--frobnicate']);
    assert.equal(await unknown.exited, 2);
    assert.match(unknown.err(), /Usage:/);
  });
});
