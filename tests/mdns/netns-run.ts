// Runs a scenario file inside a fresh private network namespace (`unshare --net`, only `lo` with multicast
// routed to it, plus whatever the caller sets up), so mDNS traffic never leaves the machine. Where a namespace
// cannot be made (no CAP_SYS_ADMIN, no `unshare`/`ip`), whyNoNamespace() says why and the tests skip; they never
// fall back to the real network.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

export const NETNS_SETUP = 'ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo';

export function whyNoNamespace(): string | undefined {
  const probe = spawnSync('unshare', ['--net', 'sh', '-c', `${NETNS_SETUP} && ip route show 224.0.0.0/4`], { encoding: 'utf8' });
  if (probe.error) return `cannot run unshare (${probe.error.message})`;
  if (probe.status !== 0) return `cannot make a private network namespace: ${(probe.stderr || '').trim() || `exit ${probe.status}`}`;
  if (!probe.stdout.includes('224.0.0.0/4')) return 'multicast route could not be set inside the namespace';
  return undefined;
}

/** Runs `file` (with `args`) inside a fresh namespace and returns its RESULT object. */
export async function runScenario(file: string, extraSetup = '', args: string[] = []): Promise<Record<string, any>> {
  const setup = extraSetup ? `${NETNS_SETUP} && ${extraSetup}` : NETNS_SETUP;
  const child = spawn('unshare', ['--net', 'sh', '-c', `${setup} && exec "$0" --import tsx "$@"`, process.execPath, file, ...args], {
    env: { ...process.env, SALITA_LOG_LEVEL: process.env.SALITA_LOG_LEVEL ?? 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 0, `scenario exited ${code}\n${err}`);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no RESULT line; stdout:\n${out}\nstderr:\n${err}`);
  const r = JSON.parse(line.slice('RESULT '.length));
  assert.equal(r.error, undefined, r.error);
  return r;
}
