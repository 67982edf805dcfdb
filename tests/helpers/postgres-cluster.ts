// A throw-away PostgreSQL cluster for tests: initdb in a temp dir, started on a free loopback port, stopped and
// removed afterwards. PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
// (Debian's package makes it) and its commands run through runuser; as anyone else they run as that user. Only
// trust authentication on 127.0.0.1 (the cluster listens nowhere else, and the socket directory is private).
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url: (database?: string) => string;
  port: number;
  /** Makes a fresh, empty database and returns its URL. */
  createDatabase(name: string): string;
  stop(): void;
}

/** The newest installed PostgreSQL's bin dir (Debian: /usr/lib/postgresql/<major>/bin), or null. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : null;
}

/** Why the PostgreSQL tests cannot run here (undefined: they can); under CI a missing server is an error. */
export function postgresSkipReason(): string | undefined {
  if (postgresBinDir()) return undefined;
  const why = 'PostgreSQL is not installed (apt-get install -y postgresql)';
  if (process.env.CI) throw new Error(`${why}; CI must run the PostgreSQL tests.`);
  return why;
}

/**
 * `fsync`: flush commits to disk as a production server does (default off: a test's data is thrown away; a bench
 * that compares PostgreSQL with SQLite, which syncs every commit, turns it on).
 */
export async function startPostgresCluster(opts: { fsync?: boolean } = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const asRoot = userInfo().uid === 0;
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const r = spawnSync(file, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const dir = mkdtempSync(join(tmpdir(), 'salita-pg-'));
  const data = join(dir, 'data');
  chmodSync(dir, 0o700);
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
  const port = await freePort();
  // Only loopback, a private socket dir, and what a test cluster wants (no fsync unless asked: the data is thrown away).
  appendFileSync(
    join(data, 'postgresql.conf'),
    `\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\nfsync = ${opts.fsync ? 'on' : 'off'}\nmax_connections = 200\n`,
  );
  run('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), 'start']);
  const psql = (sql: string) =>
    run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  process.once('exit', stop);
  return {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a database name: ${name}`);
      psql(`CREATE DATABASE ${name}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
