// A nats-server for tests (Debian's package): on loopback, a free port, stopped afterwards, and restartable on
// the same port (the bus going away and coming back under running instances).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { freePort } from './free-port.js';

export interface TestNatsServer {
  url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

export function natsSkipReason(): string | undefined {
  if (spawnSync('nats-server', ['--version']).status === 0) return undefined;
  const why = 'nats-server is not installed (apt-get install -y nats-server)';
  if (process.env.CI) throw new Error(`${why}; CI must run the bus tests.`);
  return why;
}

export async function startNatsServer(): Promise<TestNatsServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      c.stderr!.setEncoding('utf8').on('data', (d: string) => {
        log += d;
        if (log.includes('Server is ready')) resolve();
      });
      c.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    });
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  await start();
  return { url: `nats://127.0.0.1:${port}`, stop, start };
}
