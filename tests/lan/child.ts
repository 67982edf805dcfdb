// The test side of line-protocol.ts: runs a script as a separate process inside a namespace
// (`ip netns exec <ns> node --import tsx <script> ...`), waits for its ready line and sends it commands.
// Everything it started is tracked so the test can kill it on any exit path.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MARK } from './line-protocol.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const live = new Set<{ killNow(): void }>();

/** Kills (SIGKILL) every process still running; for exit handlers, where nothing async may happen. */
export function killAllNow(): void {
  for (const p of live) p.killNow();
}

export class LanProcess<Ready = Record<string, unknown>> {
  ready!: Ready;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderrTail = '';
  private exited: Promise<number | null>;
  private hasExited = false;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    live.add(this);
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith(MARK)) this.onMessage(JSON.parse(line.slice(MARK.length)));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-8000);
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.hasExited = true;
        live.delete(this);
        const why = new Error(`${label} exited (code ${code}, signal ${signal})\n${this.stderrTail}`);
        for (const w of this.waiting.values()) w.reject(why);
        this.waiting.clear();
        this.onReady?.reject(why);
        resolve(code);
      }),
    );
  }

  private onReady?: { resolve: (v: Ready) => void; reject: (e: Error) => void };

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** What the process wrote on stderr lately (node logs), for failure messages. */
  get stderr(): string {
    return this.stderrTail;
  }

  static async start<R = Record<string, unknown>>(
    label: string,
    ns: string,
    script: string,
    args: string[] = [],
    readyLimitMs = 60_000,
  ): Promise<LanProcess<R>> {
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args],
      {
        cwd: root,
        env: { ...process.env, SALITA_LOG_LEVEL: process.env.SALITA_LOG_LEVEL ?? 'warn' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const p = new LanProcess<R>(label, child);
    p.ready = await new Promise<R>((resolve, reject) => {
      p.onReady = { resolve, reject };
      const t = setTimeout(() => reject(new Error(`${label}: no ready line within ${readyLimitMs} ms\n${p.stderrTail}`)), readyLimitMs);
      t.unref();
    }).catch(async (err: Error) => {
      await p.kill();
      throw err;
    });
    return p;
  }

  private onMessage(msg: { ready?: unknown; id?: number; ok?: boolean; result?: unknown; error?: string }): void {
    if (msg.ready !== undefined) {
      this.onReady?.resolve(msg.ready as Ready);
      return;
    }
    const w = msg.id !== undefined ? this.waiting.get(msg.id) : undefined;
    if (!w) return;
    this.waiting.delete(msg.id!);
    if (msg.ok) w.resolve(msg.result);
    else w.reject(new Error(`${this.label}: ${msg.error}`));
  }

  /** Sends one command and waits for its answer (the child rejects unknown ops; a dead child rejects all). */
  send<T = any>(op: string, params: Record<string, unknown> = {}, limitMs = 60_000): Promise<T> {
    if (this.hasExited) return Promise.reject(new Error(`${this.label} is not running\n${this.stderrTail}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.label}: no answer to ${op} within ${limitMs} ms`));
      }, limitMs);
      t.unref();
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.stdin.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  /** Asks the process to stop cleanly (node.stop(): mDNS goodbyes, sockets closed); kills it if it does not. */
  async stop(limitMs = 10_000): Promise<void> {
    if (this.hasExited) return;
    await this.send('stop', {}, limitMs).catch(() => undefined);
    const t = setTimeout(() => this.killNow(), limitMs);
    t.unref();
    await this.exited;
    clearTimeout(t);
  }

  async kill(): Promise<void> {
    if (this.hasExited) return;
    this.killNow();
    await this.exited;
  }

  killNow(): void {
    if (this.hasExited) return;
    try {
      this.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}
