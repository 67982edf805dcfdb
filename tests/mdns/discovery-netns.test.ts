// mDNS discovery between two real nodes, run in a network namespace this test makes, so multicast never
// leaves the machine (DEVELOPERS.md). Where namespaces cannot be made (no CAP_SYS_ADMIN, no `unshare`/`ip`),
// the test is skipped and says why; it never falls back to the real network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const scenario = fileURLToPath(new URL('./netns-scenario.ts', import.meta.url));
const NETNS_SETUP = 'ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo';

function whyNoNamespace(): string | undefined {
  const probe = spawnSync('unshare', ['--net', 'sh', '-c', `${NETNS_SETUP} && ip route show 224.0.0.0/4`], { encoding: 'utf8' });
  if (probe.error) return `cannot run unshare (${probe.error.message})`;
  if (probe.status !== 0) return `cannot make a private network namespace: ${(probe.stderr || '').trim() || `exit ${probe.status}`}`;
  if (!probe.stdout.includes('224.0.0.0/4')) return 'multicast route could not be set inside the namespace';
  return undefined;
}

const reason = whyNoNamespace();

test('two nodes discover each other over mDNS, see a rename and a goodbye, and exit without leaked sockets',
  { skip: reason ? `mDNS test skipped: ${reason}` : false, timeout: 180_000 }, async () => {
    const child = spawn('unshare', ['--net', 'sh', '-c', `${NETNS_SETUP} && exec "$0" --import tsx "$1"`, process.execPath, scenario], {
      env: { ...process.env, SALITA_LOG_LEVEL: process.env.SALITA_LOG_LEVEL ?? 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 0, `scenario exited ${code}\n${err}`);
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `no RESULT line; stdout:\n${out}\nstderr:\n${err}`);
    const r = JSON.parse(line.slice('RESULT '.length));
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.a_sees_b.fingerprint, r.b.fingerprint, 'TXT fp is the peer fingerprint');
    assert.equal(r.a_sees_b.port, r.b.port, 'SRV port is the peer HTTP port');
    assert.ok(r.a_sees_b.addresses.includes('127.0.0.1'), `addresses: ${r.a_sees_b.addresses}`);
    assert.equal(r.a_sees_b.paired, false);
    assert.equal(r.b_sees_a.fingerprint, r.a.fingerprint);
    assert.equal(r.a_sees_self, false, 'a node does not list itself');
    assert.equal(r.a_sees_rename.name, 'Renamed B');
    assert.equal(r.b_gone_from_a, true);
  });
