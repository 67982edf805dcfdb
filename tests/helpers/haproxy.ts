// A real HAProxy in front of cloud instances, for tests: one frontend on a free loopback port, the instances as
// backends checked on GET /readyz every 100 ms (down after 1 failure, up after 1 success), WebSockets tunnelled.
// Round robin, so new connections spread; a drained instance (503 on /readyz) gets none.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface TestHaproxy {
  url: string;
  stop(): Promise<void>;
}

export function haproxySkipReason(): string | undefined {
  if (spawnSync('haproxy', ['-v']).status === 0) return undefined;
  const why = 'haproxy is not installed (apt-get install -y haproxy)';
  if (process.env.CI) throw new Error(`${why}; CI must run the load-balancer tests.`);
  return why;
}

export async function startHaproxy(backends: readonly { port: number }[]): Promise<TestHaproxy> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'salita-haproxy-'));
  const config = [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout tunnel 1h',
    'frontend cloud',
    `  bind 127.0.0.1:${port}`,
    '  default_backend instances',
    'backend instances',
    '  balance roundrobin',
    '  option httpchk',
    // HTTP/1.1 with a Host: the cloud refuses a request without one.
    '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost',
    '  http-check expect status 200',
    ...backends.map((b, i) => `  server i${i + 1} 127.0.0.1:${b.port} check inter 100 fall 1 rise 1`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.once('exit', () => child.kill('SIGKILL'));
  // Ready once it forwards: the first request through it answers.
  for (let i = 0; ; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      break;
    } catch {
      if (child.exitCode !== null || i > 200) throw new Error(`haproxy did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
