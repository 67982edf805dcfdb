// A real HAProxy in front of cloud instances, for tests: one frontend on a free loopback port, the instances as
// backends checked on GET /readyz every 100 ms (down after 1 failure, up after 1 success), WebSockets tunnelled.
// Round robin, so new connections spread; a drained instance (503 on /readyz) gets none. A backend marked
// `backup` gets connections only while no other is up (a fixed instance per frontend, and a spare for failover).
// servers() reads HAProxy's own view (up or down, sessions open now) from its stats socket.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface HaproxyBackend {
  port: number;
  /** The server's name in HAProxy (default i1, i2, … by position). */
  name?: string;
  /** Only used while every non-backup server is down. */
  backup?: boolean;
}

/** One backend server as HAProxy sees it now. */
export interface HaproxyServer {
  name: string;
  /** UP, DOWN, MAINT, …; "UP 1/2" while a change is under way. */
  status: string;
  /** The result of the last health check (L7OK: /readyz answered 200). */
  checkStatus: string;
  /** Sessions open now (a tunnelled WebSocket is one as long as it lives). */
  sessions: number;
  /** Sessions since the start. */
  total: number;
  backup: boolean;
}

export interface TestHaproxy {
  url: string;
  servers(): Promise<HaproxyServer[]>;
  stop(): Promise<void>;
}

export function haproxySkipReason(): string | undefined {
  if (spawnSync('haproxy', ['-v']).status === 0) return undefined;
  const why = 'haproxy is not installed (apt-get install -y haproxy)';
  if (process.env.CI) throw new Error(`${why}; CI must run the load-balancer tests.`);
  return why;
}

export async function startHaproxy(backends: readonly HaproxyBackend[]): Promise<TestHaproxy> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'salita-haproxy-'));
  const statsSocket = join(dir, 'stats.sock');
  const config = [
    'global',
    '  maxconn 2000',
    `  stats socket ${statsSocket} mode 600 level user`,
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
    // A connection that cannot reach its server (an instance just killed, not yet marked down) is tried again
    // on another one instead of failing.
    '  retries 2',
    '  option redispatch',
    '  option httpchk',
    // HTTP/1.1 with a Host: the cloud refuses a request without one.
    '  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost',
    '  http-check expect status 200',
    ...backends.map(
      (b, i) => `  server ${b.name ?? `i${i + 1}`} 127.0.0.1:${b.port} check inter 100 fall 1 rise 1${b.backup ? ' backup' : ''}`,
    ),
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
    servers: async () => parseServers(await statsCommand(statsSocket, 'show stat')),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One command on HAProxy's stats socket (non-interactive: it answers and closes). */
function statsCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = createConnection(socket, () => c.end(`${command}\n`));
    c.setEncoding('utf8');
    c.on('data', (d: string) => (out += d));
    c.once('error', reject);
    c.once('close', () => resolve(out));
  });
}

/** `show stat` CSV: a header line `# pxname,svname,…`, then one row per frontend, server and backend. */
function parseServers(csv: string): HaproxyServer[] {
  const [header, ...rows] = csv.trim().split('\n');
  const cols = (header ?? '').replace(/^# /, '').split(',');
  const at = (row: string[], name: string) => row[cols.indexOf(name)] ?? '';
  return rows
    .map((r) => r.split(','))
    .filter((r) => at(r, 'pxname') === 'instances' && !['FRONTEND', 'BACKEND'].includes(at(r, 'svname')))
    .map((r) => ({
      name: at(r, 'svname'),
      status: at(r, 'status'),
      checkStatus: at(r, 'check_status'),
      sessions: Number(at(r, 'scur')),
      total: Number(at(r, 'stot')),
      backup: at(r, 'bck') === '1',
    }));
}
