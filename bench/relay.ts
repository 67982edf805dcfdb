// Phone -> phone across two homes, against a bare `ws` forwarder chain with the same hops (see bench/README.md).
//
//   npm run build && node --import tsx bench/relay.ts [--rate 1000] [--seconds 5] [--count 3000] [--window 64]
//                                                  [--rounds 1] [--warmup 300] [--only bare|relay] [--prof DIR]
//
// relay: A-phone --signed POST /api/messages--> A-node --WS /v1/relay--> cloud --WS--> B-node --device WS push-->
//        B-phone. The cloud and both nodes are the built code (a private copy of out/main), each its own process.
// bare:  sender --ws--> forwarder 1 --ws--> forwarder 2 --ws--> forwarder 3 --ws--> receiver; each forwarder a
//        process that sends the same bytes on (bench/lib/relay-forwarder.ts): no parsing, no storage, no auth.
// The sending and the receiving phone are this process (one clock for send and receive time) in both cases, and
// both send the same bytes: {"envelope": <a real sealed envelope>}. Envelopes are sealed before the timed runs,
// one per message (fresh uuidv7 ids), by child processes; the sealing rate is printed on its own.
//   latency:    open loop, a fixed schedule of --rate msg/s for --seconds; latency = receive time at the phone -
//               the message's scheduled send time (so a stalled sender cannot hide queueing).
//   throughput: closed loop, --window messages in flight (sent, not yet received), --count messages.
// Targets: p99 relay / p99 bare <= 3, throughput relay / bare >= 0.3. Never exits non-zero because of a figure.
import './quiet-logs.js';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { NODE_NOISE_SUITE, NODE_SHA256 } from '../src/main/core/crypto/node-noise.js';
import { DeviceClient } from '../src/shared/client/device-client.js';
import { pairWithNode } from '../src/shared/client/pairing-client.js';
import { toBase64Url } from '../src/shared/encoding.js';
import { makePhone, type Phone } from '../tests/helpers/test-node.js';
import { makeHttpFetch } from './lib/http-fetch.js';
import { cleanupAll, cpuMs, quantile, REPO, snapshotBuild, spawnNode, tempDir, type Child } from './lib/procs.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    count: { type: 'string', default: '3000' },
    window: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '1' },
    // After each throughput run: latency again at this rate, or 'auto' = half the relay's closed-loop maximum
    // of that round (a rate it can sustain), or 0 = skip.
    'sustained-rate': { type: 'string', default: 'auto' },
    only: { type: 'string' }, // 'bare' | 'relay'
    // Diagnostic only: rewrite `synchronous = FULL` in the bench's private copy of the build (e.g. NORMAL), to
    // see how much of the relay's cost is fsync. Not what ships; the output says so.
    'sqlite-synchronous': { type: 'string' },
    undici: { type: 'boolean', default: false }, // the phones use the global fetch (undici) instead of node:http
    prof: { type: 'string' }, // a folder: the cloud and both nodes write V8 CPU profiles there (--cpu-prof)
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const COUNT = Number(values.count);
const WINDOW = Number(values.window);
const WARMUP = Number(values.warmup);
const ROUNDS = Math.max(1, Number(values.rounds));
const SUSTAINED = values['sustained-rate'] === 'auto' ? 'auto' : Number(values['sustained-rate']);
const ONLY = values.only;
const DRAIN_MS = 30_000;
const PROF = values.prof ? ['--cpu-prof', '--cpu-prof-dir', values.prof] : [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `done`, or give up after `ms` (the timer does not outlive it). */
async function within(done: Promise<void>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((r) => { t = setTimeout(r, ms); })]);
  clearTimeout(t);
}

// ---- one path = a way to get bytes from the sending phone to the receiving phone -----------------------------

interface Msg { id: string; json: string; obj: unknown }
interface Path {
  name: string;
  /** The processes in the middle (their CPU time is reported per message). */
  middle: Child[];
  send(m: Msg): void;
  /** Set by the harness: called with the envelope id when the receiving phone has it. */
  onReceive: (id: string) => void;
  /** Set by the harness: the send of this id was refused or failed for good; it will never arrive. */
  onSendFailed: (id: string) => void;
  errors: Map<string, number>;
  /** Sends not yet answered (relay: HTTP requests in flight), and when the receiving phone last got anything. */
  pendingSends: number;
  lastReceiveAt: number;
  close(): Promise<void>;
}

/** Waits until a path has no sends in flight and its receiver has been quiet for 2 s (a backlog drained). */
async function quiesce(p: Path, limitMs = 180_000): Promise<void> {
  const end = performance.now() + limitMs;
  while (performance.now() < end && (p.pendingSends > 0 || performance.now() - p.lastReceiveAt < 2000)) await sleep(200);
}

function countError(p: Path, why: string): void {
  p.errors.set(why, (p.errors.get(why) ?? 0) + 1);
}

// ---- the harness ----------------------------------------------------------------------------------------------

interface LatencyResult { errors: Record<string, number>; sent: number; received: number; p50: number; p90: number; p99: number; max: number; achievedRate: number }

async function openLoop(path: Path, msgs: Msg[], rate: number): Promise<LatencyResult> {
  const scheduled = new Map<string, number>();
  const lat: number[] = [];
  path.errors.clear();
  let received = 0;
  let allIn: () => void = () => {};
  const done = new Promise<void>((r) => { allIn = r; });
  path.onReceive = (id) => {
    const t = scheduled.get(id);
    if (t === undefined) return;
    scheduled.delete(id);
    lat.push(performance.now() - t);
    if (++received === msgs.length) allIn();
  };
  const interval = 1000 / rate;
  const t0 = performance.now() + 5;
  let i = 0;
  while (i < msgs.length) {
    const now = performance.now();
    // Send everything that is due (a late wake-up sends a burst, as an open-loop client would).
    while (i < msgs.length && t0 + i * interval <= now) {
      const m = msgs[i]!;
      scheduled.set(m.id, t0 + i * interval);
      path.send(m);
      i++;
    }
    if (i < msgs.length) await sleep(Math.max(0, t0 + i * interval - performance.now()));
  }
  const sendSpan = performance.now() - t0;
  await within(done, DRAIN_MS);
  const errors = Object.fromEntries(path.errors);
  // A message that never arrived (refused, or still queued after the drain time) counts as infinitely late.
  for (let k = received; k < msgs.length; k++) lat.push(Infinity);
  lat.sort((a, b) => a - b);
  return { errors, sent: msgs.length, received, p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), max: lat.at(-1) ?? NaN, achievedRate: msgs.length / (sendSpan / 1000) };
}

interface ThroughputResult { errors: Record<string, number>; sent: number; received: number; perSec: number; cpuMsPerMsg: number; cpuEach: number[]; clientCpuMsPerMsg: number; p50: number; p99: number }

async function closedLoop(path: Path, msgs: Msg[], window: number): Promise<ThroughputResult> {
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  path.errors.clear();
  let next = 0, received = 0;
  let allIn: () => void = () => {};
  const done = new Promise<void>((r) => { allIn = r; });
  const sendNext = () => {
    if (next >= msgs.length) return;
    const m = msgs[next++]!;
    sentAt.set(m.id, performance.now());
    path.send(m);
  };
  path.onReceive = (id) => {
    const t = sentAt.get(id);
    if (t === undefined) return;
    sentAt.delete(id);
    lastAt = performance.now();
    lat.push(lastAt - t);
    if (++received + failed === msgs.length) allIn();
    else sendNext();
  };
  // A failed send will never arrive: count it and keep the window full, or the run would stall on it.
  let failed = 0, lastAt = 0;
  path.onSendFailed = (id) => {
    if (!sentAt.delete(id)) return;
    if (received + ++failed === msgs.length) allIn();
    else sendNext();
  };
  const each0 = path.middle.map((c) => cpuMs(c.pid));
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  for (let k = 0; k < window; k++) sendNext();
  await within(done, DRAIN_MS + msgs.length * 10);
  const elapsed = (received + failed === msgs.length ? performance.now() : lastAt) - t0; // a stall is not throughput
  path.onSendFailed = () => {};
  const each = path.middle.map((c, k) => cpuMs(c.pid) - each0[k]!);
  const cpu = each.reduce((a, b) => a + b, 0);
  const own = process.cpuUsage(own0);
  lat.sort((a, b) => a - b);
  const n = Math.max(1, received);
  return { errors: Object.fromEntries(path.errors), sent: next, received, perSec: received / (elapsed / 1000), cpuMsPerMsg: cpu / n, cpuEach: each.map((x) => x / n), clientCpuMsPerMsg: (own.user + own.system) / 1000 / n, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}

// ---- sealing ---------------------------------------------------------------------------------------------------

async function sealBatch(from: Phone, to: Phone, count: number, workers = 2): Promise<{ msgs: Msg[]; perSec: number }> {
  if (count === 0) return { msgs: [], perSec: NaN };
  const share = (k: number) => Math.floor(count / workers) + (k < count % workers ? 1 : 0);
  const t0 = performance.now();
  const parts = await Promise.all(Array.from({ length: workers }, (_, k) => new Promise<{ envelopes: string[]; ms: number }>((resolve, reject) => {
    const c = spawnNode(`sealer${k}`, ['--import', 'tsx', join(REPO, 'bench/lib/relay-sealer.ts')], { ipc: true });
    c.proc.once('message', (m: { envelopes: string[]; ms: number }) => resolve(m));
    c.proc.once('exit', (code) => { if (code !== 0) reject(new Error(`sealer exited ${code}: ${c.stderr.join('').slice(-1500)}`)); });
    c.proc.send({
      from: { device_id: from.identity.node_id, privateKey: toBase64Url(from.privateKey), publicKey: toBase64Url(from.publicKey) },
      to: { device_id: to.identity.node_id, publicKey: toBase64Url(to.publicKey) },
      count: share(k), text: 'Hei Bo, middag klokka sju? Ta med brød.',
    });
  })));
  const wall = performance.now() - t0;
  const msgs: Msg[] = [];
  for (const p of parts) for (const json of p.envelopes) {
    const obj = JSON.parse(json) as { id: string };
    msgs.push({ id: obj.id, json: `{"envelope":${json}}`, obj });
  }
  const busy = parts.reduce((s, p) => s + p.ms, 0);
  console.log(`sealed ${count} envelopes in ${(wall / 1000).toFixed(1)} s with ${workers} processes: ${(busy / count).toFixed(2)} ms per seal (${Math.round(count / (busy / 1000))} seals/s per core), ${msgs[0]!.json.length} bytes per message`);
  return { msgs, perSec: count / (busy / 1000) };
}

// ---- the bare chain -------------------------------------------------------------------------------------------

async function startBare(): Promise<Path> {
  const hop = async (name: string, to?: number) => {
    const c = spawnNode(name, ['--import', 'tsx', join(REPO, 'bench/lib/relay-forwarder.ts'), ...(to ? ['--to', `ws://127.0.0.1:${to}/`] : [])]);
    return { c, port: Number((await c.waitFor(/^FORWARDER (\d+)$/, 60_000))[1]) };
  };
  const p3 = await hop('fwd3');
  const p2 = await hop('fwd2', p3.port);
  const p1 = await hop('fwd1', p2.port);
  const open = (url: string) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const recv = await open(`ws://127.0.0.1:${p3.port}/recv`);
  const sender = await open(`ws://127.0.0.1:${p1.port}/`);
  const path: Path = {
    name: 'bare ws chain', middle: [p1.c, p2.c, p3.c], errors: new Map(), onReceive: () => {}, onSendFailed: () => {}, pendingSends: 0, lastReceiveAt: 0,
    send: (m) => sender.send(m.json),
    close: async () => {
      sender.close();
      recv.close();
      await Promise.all([p1.c.stop(), p2.c.stop(), p3.c.stop()]);
    },
  };
  recv.on('message', (data) => {
    const body = JSON.parse(String(data)) as { envelope: { id: string } };
    path.lastReceiveAt = performance.now();
    path.onReceive(body.envelope.id);
  });
  return path;
}

// ---- the real relay: cloud + two headless nodes ---------------------------------------------------------------

interface NodeProc { c: Child; base: string; adminToken: string; cloudDeviceId: string; admin(path: string, body?: unknown): Promise<{ status: number; body: any }> }

async function startNodeProc(build: string, name: string): Promise<NodeProc> {
  const c = spawnNode(name, [...PROF, join(build, 'out/main/headless.js'), '--data-dir', tempDir(), '--port', '0', '--host', '127.0.0.1', '--no-mdns', '--no-pair'], { cwd: build });
  const ready = await c.waitFor(/^READY (\{.*\})$/, 60_000);
  const { port } = JSON.parse(ready[1]!) as { port: number };
  const adminToken = (await c.waitFor(/#admin=([A-Za-z0-9_-]+)/, 1000, true))[1]!;
  const base = `http://127.0.0.1:${port}`;
  const admin: NodeProc['admin'] = async (path, body) => {
    const res = await fetch(base + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Admin ${adminToken}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* keep text */ }
    return { status: res.status, body: parsed };
  };
  const identity = await (await fetch(`${base}/api/node/identity`)).json() as { public_key: string };
  return { c, base, adminToken, cloudDeviceId: identity.public_key, admin };
}

async function pair(node: NodeProc, phone: Phone): Promise<DeviceClient> {
  const start = await node.admin('/auth/pair/start', {});
  if (start.status !== 200) throw new Error(`pair/start: ${start.status} ${JSON.stringify(start.body)}`);
  const s = start.body as { code: string; pin: string; fingerprint: string };
  const p = await pairWithNode({ baseUrl: node.base, code: s.code, pin: s.pin, expectedFingerprint: s.fingerprint, identity: phone.pairing, suite: NODE_NOISE_SUITE });
  // node:crypto signing: the phone's own CPU is not what is measured (the sealing was done beforehand, too).
  // node:http instead of undici's fetch: see bench/lib/http-fetch.ts (--undici to compare).
  return new DeviceClient(node.base, { sessionId: p.sessionId, deviceSecret: p.deviceSecret }, { sha256: NODE_SHA256, ...(values.undici ? {} : { fetch: makeHttpFetch(256) }) });
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, limitMs = 60_000): Promise<T> {
  const end = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) { last = err; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

async function startRelay(build: string, phoneA: Phone, phoneB: Phone): Promise<Path> {
  const cloud = spawnNode('cloud', [...PROF, join(build, 'out/main/cloud.js'), 'serve', '--data-dir', tempDir(), '--port', '0', '--host', '127.0.0.1'], { cwd: build });
  const cloudUrl = (await cloud.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1]!;
  const [A, B] = await Promise.all([startNodeProc(build, 'node-A'), startNodeProc(build, 'node-B')]);
  const a = await pair(A, phoneA);
  const b = await pair(B, phoneB);
  for (const n of [A, B]) {
    const codeLine = cloud.waitFor(new RegExp(`one-time code for device ${n.cloudDeviceId.replace(/-/g, '\\-')}: (\\d{6})`), 30_000);
    const login = await n.admin('/api/admin/cloud/login', { url: cloudUrl });
    if (login.status !== 200) throw new Error(`cloud login: HTTP ${login.status} ${JSON.stringify(login.body)}`);
    const code = (await codeLine)[1]!;
    const r = await n.admin('/api/admin/cloud/code', { code });
    if (r.status !== 200) throw new Error(`cloud code: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  }
  for (const [n, name] of [[A, 'A'], [B, 'B']] as const) await until(`node ${name} connected to the cloud`, async () => (await n.admin('/api/admin/cloud')).body?.status === 'connected');
  await until('B-phone in A-phone\'s directory', async () => {
    const r = await a.request<{ devices: { device_id: string }[] }>('GET', '/api/messages/directory');
    if (r.status !== 200) throw new Error(`directory: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.devices.some((d) => d.device_id === phoneB.identity.node_id);
  });

  // B-phone: holds the device WebSocket (pushes) and acks what it got, as the phone page does.
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const s = new WebSocket(b.webSocketUrl('/api/device/events'), { perMessageDeflate: false });
    s.once('message', () => resolve(s)); // hello
    s.once('unexpected-response', (_q, res) => reject(new Error(`B-phone socket: HTTP ${res.statusCode}`)));
    s.once('error', reject);
  });
  let maxSeq = 0, acked = 0, acking = false;
  const ackTimer = setInterval(() => {
    if (acking || maxSeq <= acked) return;
    acking = true;
    const upTo = maxSeq;
    void b.request('POST', '/api/messages/inbox/ack', { up_to_seq: upTo }).then((r) => {
      if (r.status === 200) acked = upTo;
      else countError(path, `inbox ack HTTP ${r.status}`);
    }, (err: Error) => countError(path, `inbox ack: ${err.message}`)).finally(() => { acking = false; });
  }, 200);

  const path: Path = {
    name: 'relay (2 nodes + cloud)', middle: [A.c, cloud, B.c], errors: new Map(), onReceive: () => {}, onSendFailed: () => {}, pendingSends: 0, lastReceiveAt: 0,
    send: (m) => {
      path.pendingSends++;
      const post = () => a.request('POST', '/api/messages', { envelope: m.obj });
      // A kept-alive connection the node closed as it idled can fail the first write ("socket hang up",
      // ECONNRESET): re-sign and resend once, as a phone would (a send is idempotent by envelope id).
      void post().catch((err: Error & { code?: string }) => {
        if (err.code === 'ECONNRESET' || /socket hang up/.test(err.message)) { countError(path, `resent after: ${err.message}`); return post(); }
        throw err;
      }).finally(() => { path.pendingSends--; }).then((r) => {
        if (r.status !== 202) {
          countError(path, `send HTTP ${r.status} ${(r.body as { error?: string })?.error ?? JSON.stringify(r.body).slice(0, 200)}`);
          path.onSendFailed(m.id);
        }
      }, (err: Error & { cause?: { code?: string; message?: string } }) => {
        countError(path, `send: ${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}`);
        path.onSendFailed(m.id);
      });
    },
    close: async () => {
      clearInterval(ackTimer);
      ws.close();
      await Promise.all([A.c.stop(), B.c.stop()]);
      await cloud.stop();
    },
  };
  ws.on('message', (data) => {
    const f = JSON.parse(String(data)) as { type: string; seq?: number; envelope?: { id: string } };
    if (f.type !== 'envelope' || !f.envelope) return;
    path.lastReceiveAt = performance.now();
    if (f.seq && f.seq > maxSeq) maxSeq = f.seq;
    path.onReceive(f.envelope.id);
  });
  return path;
}

function rewriteInTree(dir: string, from: string, to: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = join(dir, e.name);
    if (e.isDirectory()) n += rewriteInTree(f, from, to);
    else if (f.endsWith('.js')) {
      const text = readFileSync(f, 'utf8');
      if (text.includes(from)) { writeFileSync(f, text.split(from).join(to)); n++; }
    }
  }
  return n;
}

// ---- main -------------------------------------------------------------------------------------------------------


const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? +x.toFixed(digits) : 'lost');

function latencyTable(rows: { path: Path; r: number; x: LatencyResult }[]): void {
  for (const { path, r, x } of rows) if (Object.keys(x.errors).length) console.log(`  ${path.name}${ROUNDS > 1 ? ` round ${r + 1}` : ''}: ${JSON.stringify(x.errors)}`);
  console.table(rows.map(({ path, r, x }) => ({ path: path.name, ...(ROUNDS > 1 ? { round: r + 1 } : {}), 'offered msg/s': Math.round(x.achievedRate), received: `${x.received}/${x.sent}`, 'send errors': Object.values(x.errors).reduce((a, b) => a + b, 0), p50: fmt(x.p50), p90: fmt(x.p90), p99: fmt(x.p99), max: fmt(x.max, 1) })));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function latencyRatio(lat: Map<Path, LatencyResult[]>, bare: Path, relay: Path, label: string): void {
  const ratios = lat.get(relay)!.map((x, r) => x.p99 / lat.get(bare)![r]!.p99);
  const pr = median(ratios);
  const of = ROUNDS > 1 ? ` (median of ${ROUNDS} rounds)` : '';
  const lost = lat.get(relay)!.reduce((s, x) => s + (x.sent - x.received), 0);
  console.log(`ratio  p99 relay / p99 bare, ${label.padEnd(14)} = ${Number.isFinite(pr) ? pr.toFixed(2) : `n/a: over 1% of the relay's messages never arrived (${lost} lost)`}${of}   (target <= 3: ${pr <= 3 ? 'MET' : 'MISSED'})`);
}

async function main(): Promise<void> {
  const perLatency = Math.round(RATE * SECONDS);
  const total = WARMUP + ROUNDS * (perLatency + COUNT);
  console.log(`relay bench: ${ROUNDS} round(s) of: latency at ${RATE} msg/s for ${SECONDS} s (${perLatency} msgs, open loop), then throughput over ${COUNT} msgs with ${WINDOW} in flight${SUSTAINED === 0 ? '' : `, then latency again at ${SUSTAINED === 'auto' ? 'half the relay\'s maximum' : `${SUSTAINED} msg/s`}`}; ${WARMUP} warm-up msgs first`);
  const phoneA = makePhone('Anna phone');
  const phoneB = makePhone('Bo phone');
  const { msgs } = await sealBatch(phoneA, phoneB, total);
  const warm = msgs.slice(0, WARMUP);
  let cursor = WARMUP;
  const take = (n: number) => msgs.slice(cursor, (cursor += n));

  const paths: Path[] = [];
  if (ONLY !== 'relay') paths.push(await startBare());
  if (ONLY !== 'bare') {
    const build = snapshotBuild();
    const sync = values['sqlite-synchronous'];
    if (sync) {
      if (!/^(OFF|NORMAL|FULL|EXTRA)$/i.test(sync)) throw new Error('--sqlite-synchronous: OFF, NORMAL, FULL or EXTRA');
      const n = rewriteInTree(join(build, 'out/main'), 'synchronous = FULL', `synchronous = ${sync.toUpperCase()}`);
      console.log(`DIAGNOSTIC: the relay's SQLite files run with synchronous = ${sync.toUpperCase()} (${n} place(s) rewritten in the bench's copy of the build); the shipped code uses FULL`);
    }
    paths.push(await startRelay(build, phoneA, phoneB));
  }
  const relayPath = paths.find((p) => p.name.startsWith('relay'));

  for (const p of paths) {
    await closedLoop(p, warm, 16); // warm-up: JIT, connections, SQLite pages
    await sleep(500);
  }
  // Rounds alternate the paths, so a busy moment on the shared machine hits both; medians over rounds.
  const lat = new Map<Path, LatencyResult[]>(paths.map((p) => [p, []]));
  const tput = new Map<Path, ThroughputResult[]>(paths.map((p) => [p, []]));
  const slow = new Map<Path, LatencyResult[]>(paths.map((p) => [p, []]));
  const slowRates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const latMsgs = take(perLatency);
    const tputMsgs = take(COUNT);
    for (const p of paths) {
      lat.get(p)!.push(await openLoop(p, latMsgs, RATE));
      await quiesce(p);
      await sleep(1000);
    }
    for (const p of paths) {
      tput.get(p)!.push(await closedLoop(p, tputMsgs, WINDOW));
      await quiesce(p);
      await sleep(500);
    }
    if (SUSTAINED !== 0) {
      const max = tput.get(relayPath ?? paths[0]!)!.at(-1)!.perSec;
      const rate = SUSTAINED === 'auto' ? Math.max(10, Math.round(max / 2 / 10) * 10) : SUSTAINED;
      slowRates.push(rate);
      // Sealed now, while nothing is timed (the processes idle): the rate was not known before.
      const { msgs: more } = await sealBatch(phoneA, phoneB, Math.round(Math.max(rate * SECONDS, Math.min(500, rate * 30))));
      for (const p of paths) {
        slow.get(p)!.push(await openLoop(p, more, rate));
        await quiesce(p);
        await sleep(1000);
      }
    }
  }

  console.log('');
  console.log(`latency, open loop at ${RATE} msg/s (ms, scheduled send -> received by the phone):`);
  latencyTable(paths.flatMap((p) => lat.get(p)!.map((x, r) => ({ path: p, r, x }))));
  console.log(`throughput, closed loop, ${WINDOW} in flight (CPU "each": ${paths.map((p) => p.middle.map((c) => c.name).join(' / ')).join('; ')}):`);
  console.table(paths.flatMap((p) => tput.get(p)!.map((x, r) => ({ path: p.name, ...(ROUNDS > 1 ? { round: r + 1 } : {}), 'msg/s': Math.round(x.perSec), received: `${x.received}/${x.sent}`, 'p50 ms': +x.p50.toFixed(1), 'p99 ms': +x.p99.toFixed(1), 'CPU ms/msg, middle 3 procs': +x.cpuMsPerMsg.toFixed(3), 'each': x.cpuEach.map((c) => c.toFixed(2)).join(' / '), 'CPU ms/msg, both phones': +x.clientCpuMsPerMsg.toFixed(3) }))));
  if (SUSTAINED !== 0) {
    console.log(`latency, open loop at a rate the relay sustains (${[...new Set(slowRates)].join(', ')} msg/s):`);
    latencyTable(paths.flatMap((p) => slow.get(p)!.map((x, r) => ({ path: p, r, x }))));
  }
  for (const p of paths) for (const [r, x] of tput.get(p)!.entries()) if (Object.keys(x.errors).length) console.log(`  ${p.name}${ROUNDS > 1 ? ` round ${r + 1}` : ''} (throughput run): ${JSON.stringify(x.errors)}`);
  if (paths.length === 2) {
    const [bare, relay] = paths as [Path, Path];
    latencyRatio(lat, bare, relay, `at ${RATE} msg/s`);
    if (SUSTAINED !== 0) latencyRatio(slow, bare, relay, `at ${[...new Set(slowRates)].join('/')} msg/s`);
    const tr = median(tput.get(relay)!.map((x, r) => x.perSec / tput.get(bare)![r]!.perSec));
    const relayMax = median(tput.get(relay)!.map((x) => x.perSec));
    console.log(`ratio  throughput relay / bare                = ${tr.toFixed(3)}${ROUNDS > 1 ? ` (median of ${ROUNDS} rounds)` : ''}   (target >= 0.3: ${tr >= 0.3 ? 'MET' : 'MISSED'})`);
    if (relayMax < RATE) console.log(`note: the relay's closed-loop maximum here (${Math.round(relayMax)} msg/s) is below the offered ${RATE} msg/s, so at ${RATE} msg/s its latency is queueing (and, past 60 s in a queue, signed sends are refused as timestamp_skew).`);
  }
  for (const p of paths) await p.close();
}

main().then(async () => { await cleanupAll(); process.exit(0); }, async (err: unknown) => {
  console.error(`relay bench broke: ${(err as Error).stack ?? String(err)}`);
  await cleanupAll();
  process.exit(1);
});
