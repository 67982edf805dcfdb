// Real processes for the relay tests: the built cloud (out/cloud/server.mjs) and built headless nodes
// (out/main/headless.js), each on a loopback port with its own data dir, so a test can stop, SIGKILL and restart
// them like a person's machines. Everything started here is killed when the test process exits.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NodeTimings } from '../../src/main/core/config.js';
import { DeviceClient } from '../../src/shared/client/device-client.js';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import { DeviceSessions } from '../../src/shared/device-keys/device-sessions.js';
import { MemorySessionStore } from '../../src/shared/device-keys/session-store.js';
import type { PairStartResponse } from '../../src/shared/wire/schemas.js';
import { makePhone, type Phone, pairPhone, type TestNode, tempDir } from '../helpers/test-node.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function requireBuild(): void {
  for (const f of ['out/cloud/server.mjs', 'out/main/headless.js']) {
    if (!existsSync(root + f)) throw new Error(`${f} is missing: run \`npm run build\` first (npm test does)`);
  }
}

/** A child process whose stdout is read line by line; `waitLine` resolves with the first match (past or future). */
class Proc {
  readonly lines: string[] = [];
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] = [];
  private stderrTail = '';
  /** stderr lines matching `watch` (all of them, not only the tail), e.g. log lines a test must never see. */
  readonly watched: string[] = [];
  watch: RegExp | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private done = false;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    live.add(child);
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        this.check();
      }
    });
    child.stderr!.setEncoding('utf8');
    let errBuf = '';
    child.stderr!.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-6000);
      if (!this.watch) return;
      errBuf += d;
      for (let nl = errBuf.indexOf('\n'); nl >= 0; nl = errBuf.indexOf('\n')) {
        const line = errBuf.slice(0, nl);
        errBuf = errBuf.slice(nl + 1);
        if (this.watch.test(line) && this.watched.length < 1000) this.watched.push(line);
      }
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.done = true;
        live.delete(child);
        for (const w of this.waiters.splice(0))
          w.reject(new Error(`${label} exited (code ${code}, signal ${signal}) before printing ${w.re}\n${this.stderrTail}`));
        resolve({ code, signal });
      }),
    );
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      for (let i = w.from; i < this.lines.length; i++) {
        const m = this.lines[i]!.match(w.re);
        if (m) {
          w.resolve(m);
          return false;
        }
      }
      return true;
    });
  }

  /** First line matching `re` at index >= `from` (default: any line so far or later). */
  waitLine(re: RegExp, from = 0): Promise<RegExpMatchArray> {
    if (this.done) return Promise.reject(new Error(`${this.label} is not running`));
    return new Promise((resolve, reject) => {
      this.waiters.push({ re, from, resolve, reject });
      this.check();
    });
  }

  get stderr(): string {
    return this.stderrTail;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.done) return;
    this.child.kill(signal);
    await this.exited;
  }
}

export interface CloudProcess {
  url: string;
  port: number;
  dataDir: string;
  /** The one-time code the cloud printed for this device (node key), newer than `sinceLine`. */
  codeFor(deviceId: string, sinceLine?: number): Promise<string>;
  lineCount(): number;
  stop(): Promise<void>;
  kill9(): Promise<void>;
  proc: Proc;
}

export interface CloudProcessOptions {
  dataDir?: string;
  port?: number;
  drainMs?: number;
  /**
   * `--database postgres://…`: the cloud's tables in PostgreSQL instead of SQLite in the data dir. The data dir
   * still holds cloud.key, which every instance of one cloud must share (copy it into each instance's data dir).
   */
  database?: string;
  /** `--bus nats://…`: the bus between instances that share one database. */
  bus?: string;
  /** SALITA_CLOUD_INSTANCE: the `instance` label on its metrics, and its name in failure messages. */
  instance?: string;
  /** More environment for this process (over the test's own and the defaults here). */
  env?: Record<string, string>;
}

export async function startCloudProcess(opts: CloudProcessOptions = {}): Promise<CloudProcess> {
  const dataDir = opts.dataDir ?? tempDir('salita-cloud-');
  const args = ['out/cloud/server.mjs', 'serve', '--data-dir', dataDir, '--port', String(opts.port ?? 0), '--host', '127.0.0.1'];
  if (opts.database) args.push('--database', opts.database);
  if (opts.bus) args.push('--bus', opts.bus);
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // A test's SIGTERM is an outage, not a rolling restart: no drain time unless asked.
      SALITA_CLOUD_DRAIN_MS: String(opts.drainMs ?? 0),
      ...(opts.instance ? { SALITA_CLOUD_INSTANCE: opts.instance } : {}),
      ...opts.env,
    },
  });
  const proc = new Proc(opts.instance ? `cloud ${opts.instance}` : 'cloud', child);
  const m = await proc.waitLine(/listening on (http:\/\/127\.0\.0\.1:(\d+))/);
  return {
    url: m[1]!,
    port: Number(m[2]),
    dataDir,
    proc,
    lineCount: () => proc.lines.length,
    codeFor: async (deviceId, sinceLine = 0) => {
      const esc = deviceId.replace(/[-]/g, '\\-');
      return (await proc.waitLine(new RegExp(`one-time code for device ${esc}: (\\d{6})`), sinceLine))[1]!;
    },
    stop: () => proc.stop('SIGTERM'),
    kill9: () => proc.stop('SIGKILL'),
  };
}

export interface NodeProcess {
  base: string;
  port: number;
  dataDir: string;
  nodeId: string;
  adminToken: string;
  /** The node key as the cloud names it (device_id = base64url of the static public key). */
  cloudDeviceId: string;
  admin(path: string, body?: unknown, method?: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
  kill9(): Promise<void>;
  proc: Proc;
}

export interface NodeProcessOptions {
  dataDir?: string;
  port?: number;
  /** Shorter waits for this process (headless `--timings`), e.g. `{ homeFallbackMs: 2000 }`. */
  timings?: Partial<NodeTimings>;
  /** Names the process in failure messages ("node A exited ..."). */
  label?: string;
  /** The node's log level (default: SALITA_LOG_LEVEL or warn), e.g. 'info' to watch link events. */
  logLevel?: string;
  /** Keep every stderr line matching this (proc.watched), not only the tail. */
  watchStderr?: RegExp;
  /** More command-line arguments for headless (e.g. --files). */
  args?: string[];
}

export async function startNodeProcess(opts: NodeProcessOptions = {}): Promise<NodeProcess> {
  const dataDir = opts.dataDir ?? tempDir('salita-node-');
  const args = [
    'out/main/headless.js',
    '--data-dir',
    dataDir,
    '--port',
    String(opts.port ?? 0),
    '--host',
    '127.0.0.1',
    '--no-mdns',
    '--no-pair',
  ];
  if (opts.timings) args.push('--timings', JSON.stringify(opts.timings));
  if (opts.args) args.push(...opts.args);
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SALITA_LOG_LEVEL: opts.logLevel ?? process.env.SALITA_LOG_LEVEL ?? 'warn', SALITA_LOG_FORMAT: 'json' },
  });
  const proc = new Proc(opts.label ?? 'node', child);
  proc.watch = opts.watchStderr;
  const ui = await proc.waitLine(/Desktop UI: +http:\/\/127\.0\.0\.1:(\d+)\/#admin=([A-Za-z0-9_-]+)/);
  const ready = await proc.waitLine(/^READY (.*)$/);
  const { port, node_id: nodeId } = JSON.parse(ready[1]!) as { port: number; node_id: string };
  const base = `http://127.0.0.1:${port}`;
  const adminToken = ui[2]!;
  const admin: NodeProcess['admin'] = async (path, body, method) => {
    const res = await fetch(base + path, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Admin ${adminToken}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  };
  const identity = (await (await fetch(`${base}/api/node/identity`)).json()) as { public_key: string };
  return {
    base,
    port,
    dataDir,
    nodeId,
    adminToken,
    cloudDeviceId: identity.public_key,
    admin,
    proc,
    stop: () => proc.stop('SIGTERM'),
    kill9: () => proc.stop('SIGKILL'),
  };
}

/**
 * Links a node to the cloud the way the desktop UI does: URL and account, then the code the cloud sent (in its
 * log: these clouds have no mail server). Nodes of one account are one household and see each other.
 */
export async function linkToCloud(node: NodeProcess, cloud: CloudProcess, email = 'home@salita.test'): Promise<void> {
  const since = cloud.lineCount();
  const login = await node.admin('/api/admin/cloud/login', { url: cloud.url, email });
  if (login.status !== 200 || login.body.status !== 'awaiting_code')
    throw new Error(`cloud login: ${login.status} ${JSON.stringify(login.body)}`);
  const code = await cloud.codeFor(node.cloudDeviceId, since);
  const r = await node.admin('/api/admin/cloud/code', { code });
  if (r.status !== 200) throw new Error(`cloud code: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function cloudStatus(node: NodeProcess): Promise<string> {
  const r = await node.admin('/api/admin/cloud');
  return r.body.status as string;
}

export interface PairedPhone {
  phone: Phone;
  deviceId: string;
  creds: { sessionId: string; deviceSecret: Uint8Array };
  /** A messaging client on `base` (pass the node's current base after a restart). */
  messaging(base: string): MessagingClient;
  /**
   * A messaging client on `base` with this phone's forward-secret sessions (one DeviceSessions per phone, kept
   * across calls, its clock `Date.now() + clockSkewMs`).
   */
  secure(base: string): MessagingClient;
  /** Moves the phone's session clock (a signed-prekey rotation is due a week after the last). */
  clockSkewMs: number;
}

export async function pairPhoneWith(node: NodeProcess, name?: string): Promise<PairedPhone> {
  const asTestNode = {
    base: node.base,
    startPairing: async () => {
      const r = await node.admin('/auth/pair/start', {});
      if (r.status !== 200) throw new Error(`pair/start failed: ${JSON.stringify(r.body)}`);
      return r.body as PairStartResponse;
    },
  } as unknown as TestNode;
  const phone = makePhone(name);
  const p = await pairPhone(asTestNode, { phone });
  const me = { device_id: phone.identity.node_id, privateKey: phone.privateKey, publicKey: phone.publicKey };
  const paired: PairedPhone = {
    phone,
    deviceId: phone.identity.node_id,
    creds: p.creds,
    clockSkewMs: 0,
    messaging: (base: string) => new MessagingClient(new DeviceClient(base, p.creds), me),
    secure: (base: string) => new MessagingClient(new DeviceClient(base, p.creds), me, '/api/messages', sessions),
  };
  const sessions = new DeviceSessions({
    deviceId: me.device_id,
    identity: { privateKey: me.privateKey, publicKey: me.publicKey },
    store: new MemorySessionStore(),
    now: () => Date.now() + paired.clockSkewMs,
  });
  return paired;
}
