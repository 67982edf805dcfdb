// What a person sees running the built headless node in a terminal: stdout holds only the human output (the
// admin URL, QR, PIN, "expires in m:ss", a new code when one expires), logs go to stderr as short lines, or as
// JSON lines with --log-format json. The desktop UI's address can be printed again for a running node
// (--admin-url, from a 0600 file in the data dir) and opened with --open. A browser sign-in started through the
// admin API prints its link (nothing opens it headless).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCloud } from '../../src/cloud/server.js';
import { cleanupAll, eventually, tempDir } from '../helpers/test-node.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const live = new Set<ChildProcess>();
after(async () => {
  for (const c of live) c.kill('SIGKILL');
  await cleanupAll();
});
const WAIT_MS = 30_000;

function runHeadless(args: string[], env: Record<string, string> = {}) {
  assert.ok(existsSync(join(root, 'out/main/headless.js')), 'run `npm run build` first');
  const child = spawn(process.execPath, ['out/main/headless.js', ...args], {
    cwd: root,
    env: { ...process.env, SALITA_LOG_LEVEL: 'info', SALITA_LOG_FORMAT: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    },
  };
}

const nodeArgs = (dataDir: string, ...more: string[]) => [
  '--data-dir',
  dataDir,
  '--port',
  '0',
  '--host',
  '127.0.0.1',
  '--no-mdns',
  ...more,
];

function jsonLines(text: string): string[] {
  return text.split('\n').filter((l) => {
    try {
      const v: unknown = JSON.parse(l);
      return typeof v === 'object' && v !== null;
    } catch {
      return false;
    }
  });
}

describe('headless node in a terminal (built)', () => {
  test('by default: human output on stdout, short log lines on stderr, no JSON lines anywhere', async () => {
    const cli = runHeadless(nodeArgs(tempDir()));
    await eventually(() => /^READY /m.test(cli.out()) && /pairing code issued/.test(cli.err()), 'started', WAIT_MS);
    await cli.stop();
    assert.match(cli.out(), /Scan to pair a phone \(expires in [12]:\d\d\)/);
    assert.doesNotMatch(cli.out(), /\d{4}-\d\d-\d\dT\d\d:\d\d/, 'no UTC ISO time for a person to convert');
    assert.deepEqual(jsonLines(cli.out()), [], 'no JSON line on stdout');
    assert.deepEqual(jsonLines(cli.err()), [], 'no JSON line on stderr');
    assert.match(cli.err(), /^\d\d:\d\d:\d\d INFO +node: node stopped/m);
  });

  test('--log-format json: the logs are JSON lines on stderr, stdout unchanged', async () => {
    const cli = runHeadless(nodeArgs(tempDir(), '--log-format', 'json'));
    await eventually(() => /^READY /m.test(cli.out()), 'started', WAIT_MS);
    await cli.stop();
    const lines = jsonLines(cli.err());
    assert.ok(
      lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'node stopped'),
      cli.err(),
    );
    assert.deepEqual(jsonLines(cli.out()), []);
    assert.match(cli.out(), /expires in \d:\d\d/);

    const bad = runHeadless(['--log-format', 'xml']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.err(), /--log-format must be pretty or json/);
  });

  test('an expired code is followed by a new one in the terminal', async () => {
    const cli = runHeadless(nodeArgs(tempDir(), '--timings', '{"pairingTtlMs":1500}'));
    await eventually(() => /New pairing code, the one above expired \(expires in 0:0\d\)/.test(cli.out()), 'a renewed code', WAIT_MS);
    await cli.stop();
    const urls = [...cli.out().matchAll(/URL: +(\S+\/pair\?code=\S+)/g)].map((m) => m[1]);
    assert.ok(urls.length >= 2 && urls[0] !== urls[1], `two different pairing links: ${urls.join(', ')}`);
  });

  test('--admin-url prints the running node its address (0600 file), and says when none is running; --open opens it', async () => {
    const dataDir = tempDir();
    const opened = join(tempDir(), 'opened.txt');
    const fakeBrowser = join(tempDir(), 'browser.sh');
    writeFileSync(fakeBrowser, `#!/bin/sh\necho "$1" >> "${opened}"\n`, { mode: 0o755 });

    const cli = runHeadless(nodeArgs(dataDir, '--no-pair', '--open'), { BROWSER: fakeBrowser });
    await eventually(() => /^READY /m.test(cli.out()), 'started', WAIT_MS);
    const adminUrl = /Desktop UI: +(http:\S+#admin=\S+)/.exec(cli.out())![1]!;
    await eventually(() => existsSync(opened) && readFileSync(opened, 'utf8').includes(adminUrl), '--open ran the browser', WAIT_MS);
    assert.equal(statSync(join(dataDir, 'admin-url')).mode & 0o777, 0o600);

    const again = runHeadless(['--admin-url', '--data-dir', dataDir]);
    assert.equal(await again.exited, 0, again.err());
    assert.match(again.out(), new RegExp(`Desktop UI: +${adminUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));

    await cli.stop();
    assert.ok(!existsSync(join(dataDir, 'admin-url')), 'the address goes away with the node');
    const stopped = runHeadless(['--admin-url', '--data-dir', dataDir]);
    assert.equal(await stopped.exited, 1);
    assert.match(stopped.err(), /No Salita node is running with the data dir/);

    // A node that crashed leaves its file: an address the node no longer answers to is not printed.
    writeFileSync(join(dataDir, 'admin-url'), `${adminUrl}\n`, { mode: 0o600 });
    const stale = runHeadless(['--admin-url', '--data-dir', dataDir]);
    assert.equal(await stale.exited, 1);
  });

  test('a browser sign-in prints the link to open', async () => {
    const cloud = await startCloud({ dataDir: tempDir('salita-headless-cloud-'), port: 0, log: () => {} });
    try {
      const cli = runHeadless(nodeArgs(tempDir(), '--no-pair'));
      await eventually(() => /^READY /m.test(cli.out()), 'started', WAIT_MS);
      const adminUrl = new URL(/Desktop UI: +(http:\S+#admin=\S+)/.exec(cli.out())![1]!);
      const token = new URLSearchParams(adminUrl.hash.slice(1)).get('admin')!;
      const r = await fetch(`${adminUrl.origin}/api/admin/cloud/login/external`, {
        method: 'POST',
        headers: { authorization: `Admin ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: cloud.url, method: 'passkey' }),
      });
      const body = (await r.json()) as { external: { verification_uri: string } };
      assert.equal(r.status, 200, JSON.stringify(body));
      await eventually(
        () => cli.out().includes(`Open this link in a browser to sign in to the cloud: ${body.external.verification_uri}`),
        'the link on stdout',
        WAIT_MS,
      );
      await cli.stop();
    } finally {
      await cloud.stop();
    }
  });
});
