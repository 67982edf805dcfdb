// The standalone cloud bundle (`npm run build:cloud`, out/cloud/) as an operator installs it: the folder copied
// somewhere with no checkout around it, a node_modules holding only what its package.json asks for (and what
// those packages need in turn), started with plain `node`. Symlinks into the repo's node_modules stand in for
// `npm install --omit=dev`; --preserve-symlinks keeps every require() resolving inside the temp folder, so a
// dependency the bundle forgot to carry fails here instead of being found in the repo.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanupAll, tempDir } from '../helpers/test-node.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundleDir = join(root, 'out', 'cloud');

/** `name` and everything its package.json depends on, transitively (what `npm install --omit=dev` fetches). */
function dependencyClosure(names: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    const pkg = join(root, 'node_modules', name, 'package.json');
    assert.ok(existsSync(pkg), `${name} is not installed in the repo`);
    seen.add(name);
    for (const dep of Object.keys((JSON.parse(readFileSync(pkg, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}))
      visit(dep);
  };
  names.forEach(visit);
  return seen;
}

function install(): { dir: string; installed: Set<string> } {
  assert.ok(existsSync(join(bundleDir, 'server.mjs')), 'out/cloud/server.mjs is missing: run `npm run build` (npm test does)');
  const dir = join(tempDir('salita-cloud-install-'), 'salita-cloud');
  cpSync(bundleDir, dir, { recursive: true });
  const deps = Object.keys(
    (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {},
  );
  const installed = dependencyClosure(deps);
  for (const name of installed) {
    const target = join(dir, 'node_modules', name);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), target, 'dir');
  }
  return { dir, installed };
}

const children = new Set<ChildProcess>();
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await cleanupAll();
});

/** Starts the installed bundle; resolves with the URL from its pino "listening on" line. */
function start(dir: string, dataDir: string): Promise<{ child: ChildProcess; url: string; lines: string[] }> {
  const child = spawn(
    process.execPath,
    ['--preserve-symlinks', join(dir, 'server.mjs'), 'serve', '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1'],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Nothing from the repo's environment may point it back at the checkout.
      env: { PATH: process.env.PATH ?? '', HOME: dataDir },
    },
  );
  children.add(child);
  const lines: string[] = [];
  let stderr = '';
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) resolve({ child, url: m[1]!, lines });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('exit', (code) => reject(new Error(`the bundle exited (${code}) before listening:\n${stderr}\n${lines.join('\n')}`)));
  });
}

describe('standalone cloud bundle (out/cloud)', () => {
  it('runs with node and its production dependencies only: answers /healthz and a login route, stops on SIGTERM', async () => {
    const { dir, installed } = install();
    // Everything but the native addon is inside server.mjs: none of the cloud's JS dependencies is installed.
    for (const bundled of ['hono', '@hono/node-server', 'ws', 'zod', 'pino', 'drizzle-orm', 'prom-client', '@noble/curves']) {
      assert.ok(!installed.has(bundled), `${bundled} should be bundled, not installed`);
    }
    const dataDir = join(dir, '..', 'data');
    const { child, url, lines } = await start(dir, dataDir);

    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { ok: boolean; cloud_static_key: string };
    assert.equal(body.ok, true);
    assert.match(body.cloud_static_key, /^[A-Za-z0-9_-]{43}$/);

    // A route that goes through zod and the migrated database: bad input is a 4xx with a stable code.
    const bad = await fetch(`${url}/api/auth/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.ok(bad.status >= 400 && bad.status < 500, `HTTP ${bad.status}`);
    assert.equal(typeof ((await bad.json()) as { error: unknown }).error, 'string');
    assert.ok(statSync(join(dataDir, 'cloud.db')).size > 0, 'the database was made in the data dir');

    // Its log is pino's JSON, one object a line.
    const listening = JSON.parse(lines.find((l) => l.includes('listening on'))!) as { app: string; level: number; msg: string };
    assert.equal(listening.app, 'salita-cloud');

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    children.delete(child);
  });

  it('a start that fails logs the error with its stack as one JSON line and exits 1', async () => {
    const { dir } = install();
    const dataDir = join(dir, '..', 'damaged');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'cloud.db'), 'not a database');
    const child = spawn(process.execPath, ['--preserve-symlinks', join(dir, 'server.mjs'), 'serve', '--data-dir', dataDir, '--port', '0'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: dataDir },
    });
    children.add(child);
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr!.resume();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    children.delete(child);
    assert.equal(code, 1);
    const entries = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string; stack: string } });
    const fatal = entries.find((e) => e.level === 60);
    assert.ok(fatal?.err, `a fatal line with err: ${stdout}`);
    assert.match(fatal.err.message, /is not a SQLite database/);
    assert.match(fatal.err.stack, /\n\s+at /, 'the stack, not only the message');
  });
});
