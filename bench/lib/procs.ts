// Child processes for the multi-process benches (device-sockets, relay): a frozen copy of the build, spawning
// with a raised fd limit, waiting for a line on stdout, and reading a child's memory.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GC_PRELOAD = join(REPO, 'bench', 'lib', 'gc-preload.mjs');

const cleanups: (() => void | Promise<void>)[] = [];
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}
export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      /* best effort */
    }
  }
}

export function tempDir(prefix = 'salita-bench-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/**
 * A private copy of `out/main` and `out/cloud` (+ package.json, migrations, a node_modules link): `npm run build`
 * elsewhere (other work in the same checkout) rewrites out/ with new chunk names, which would break a child halfway.
 */
export function snapshotBuild(): string {
  const out = join(REPO, 'out');
  if (!existsSync(join(out, 'main', 'headless.js'))) throw new Error('out/main/headless.js is missing: run `npm run build` first');
  const root = tempDir('salita-bench-build-');
  for (let attempt = 0; ; attempt++) {
    try {
      for (const part of ['main', 'cloud'])
        if (existsSync(join(out, part))) cpSync(join(out, part), join(root, 'out', part), { recursive: true });
      break;
    } catch (err) {
      if (attempt >= 5) throw err; // a build was rewriting out/ right then: try again shortly
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
  cpSync(join(REPO, 'package.json'), join(root, 'package.json'));
  for (const m of ['migrations', 'migrations-cloud'])
    if (existsSync(join(REPO, m))) cpSync(join(REPO, m), join(root, m), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

/** The hard fd limit of this shell (what a child may raise its soft limit to). */
export function hardFdLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const hard = line?.trim().split(/\s{2,}/)[2];
    return hard === 'unlimited' ? 1 << 20 : Number(hard);
  } catch {
    return 1024;
  }
}

export class Child {
  readonly lines: string[] = [];
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void; from: number }[] = [];
  exited: { code: number | null; signal: string | null } | undefined;
  private exitWaiters: (() => void)[] = [];
  readonly stderr: string[] = [];

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    echo = false,
  ) {
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.lines.push(line);
        if (echo) console.log(`[${name}] ${line}`);
        for (const w of [...this.waiters]) {
          const m = line.match(w.re);
          if (m) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(m);
          }
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      this.stderr.push(chunk);
      if (this.stderr.length > 200) this.stderr.shift();
      if (echo || process.env.BENCH_CHILD_STDERR) process.stderr.write(`[${name}] ${chunk}`);
    });
    proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      for (const w of this.exitWaiters.splice(0)) w();
    });
    // A child that is gone (a refused flag, a failed start) prints nothing more: say so now, not at the timeout.
    // On 'close', not 'exit': by then every line it wrote has been read.
    proc.on('close', () => {
      for (const w of this.waiters.splice(0))
        w.reject(
          new Error(`${name} exited ${JSON.stringify(this.exited)} before printing ${w.re}\nstderr: ${this.stderr.join('').slice(-2000)}`),
        );
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The next stdout line (from now on, or the first already seen if `past`) matching `re`. */
  waitFor(re: RegExp, timeoutMs = 30_000, past = false): Promise<RegExpMatchArray> {
    if (past) {
      for (const l of this.lines) {
        const m = l.match(re);
        if (m) return Promise.resolve(m);
      }
    }
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `${this.name}: no line matching ${re} within ${timeoutMs} ms${this.exited ? ` (it exited: ${JSON.stringify(this.exited)})` : ''}\nstderr: ${this.stderr.join('').slice(-2000)}`,
          ),
        );
      }, timeoutMs);
      const done = (m: RegExpMatchArray) => {
        clearTimeout(timer);
        resolvePromise(m);
      };
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      this.waiters.push({ re, resolve: done, reject: fail, from: this.lines.length });
      if (this.exited) {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited ${JSON.stringify(this.exited)}\nstderr: ${this.stderr.join('').slice(-2000)}`));
      }
    });
  }

  /** VmRSS from /proc (bytes). */
  rss(): number {
    return vmRss(this.pid);
  }

  /** Three GCs in the child (needs gc-preload), then its process.memoryUsage(). */
  async memAfterGc(): Promise<NodeJS.MemoryUsage> {
    const p = this.waitFor(/^BENCH_MEM (.*)$/, 30_000);
    process.kill(this.pid, 'SIGUSR2');
    return JSON.parse((await p)[1]!) as NodeJS.MemoryUsage;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    this.proc.kill(signal);
    const t = setTimeout(() => {
      if (!this.exited) this.proc.kill('SIGKILL');
    }, graceMs);
    await gone;
    clearTimeout(t);
  }
}

export function vmRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/^VmRSS:\s+(\d+) kB/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU time (user+sys, ms) a process has used so far, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the full line)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * Spawns `node <nodeArgs...>` through bash so the soft fd limit can be raised first (`exec` keeps the pid).
 * With `ipc`, the child gets an IPC channel (process.send) on fd 3.
 */
export function spawnNode(
  name: string,
  nodeArgs: string[],
  opts: { nofile?: number; env?: NodeJS.ProcessEnv; cwd?: string; ipc?: boolean; echo?: boolean } = {},
): Child {
  const nofile = opts.nofile ?? 4096;
  const script = `ulimit -n ${nofile} || exit 97; exec "$@"`;
  const proc = spawn('bash', ['-c', script, 'bench-child', process.execPath, ...nodeArgs], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, SALITA_LOG_LEVEL: process.env.SALITA_LOG_LEVEL ?? 'error', ...opts.env },
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const child = new Child(name, proc, opts.echo);
  onCleanup(() => child.stop('SIGKILL'));
  return child;
}

export const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
