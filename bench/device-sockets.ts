// 10,000 concurrent authenticated device WebSockets held by one node (see bench/README.md).
//
//   npm run build && node --import tsx bench/device-sockets.ts [--sockets 10000] [--devices 100]
//                                        [--concurrency 200] [--clients 2]
//
// The node is the built headless node (a private copy of out/main) in its own process, so its RSS is its own
// (read from /proc/<pid>/status, after three GCs in the node). Phone-like devices are paired over the real
// pairing flow; the sockets are opened by client child processes, `concurrency` upgrades in flight in total,
// each upgrade a signed GET /api/device/events with its own nonce, and counted open when the node's `hello`
// frame arrived. Never exits non-zero because of a figure; only if the bench itself broke.
import './quiet-logs.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_NOISE_SUITE } from '../src/server/crypto/node-noise.js';
import { pairWithNode } from '../src/shared/client/pairing-client.js';
import { toBase64Url } from '../src/shared/encoding.js';
import { makePhone } from '../tests/helpers/test-node.js';
import { startNodeProc } from './lib/node-proc.js';
import { type Child, cleanupAll, GC_PRELOAD, hardFdLimit, MiB, quantile, REPO, snapshotBuild, spawnNode } from './lib/procs.js';

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '10000' },
    devices: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '200' },
    clients: { type: 'string', default: '2' },
    'heap-snapshot': { type: 'string' }, // a folder: the node writes a heap snapshot there with all sockets open
  },
});
const SOCKETS = Number(values.sockets);
const DEVICES = Math.min(Number(values.devices), SOCKETS);
const CONCURRENCY = Number(values.concurrency);
const CLIENTS = Math.max(1, Number(values.clients));
const PER_DEVICE = Math.ceil(SOCKETS / DEVICES);

const KiB = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ClientMsg =
  | { type: 'ready' }
  | { type: 'progress'; open: number; failed: number }
  | { type: 'opened'; open: number; failed: number; errors: Record<string, number>; ms: number }
  | { type: 'status'; open: number; closed: number; hellos: number }
  | { type: 'closed' };

function nextMessage<T extends ClientMsg['type']>(c: Child, type: T, timeoutMs = 600_000): Promise<Extract<ClientMsg, { type: T }>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${c.name}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const on = (m: ClientMsg) => {
      if (m.type !== type) return;
      clearTimeout(t);
      c.proc.off('message', on);
      resolve(m as Extract<ClientMsg, { type: T }>);
    };
    c.proc.on('message', on);
    c.proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${c.name} exited (${code}) while waiting for '${type}': ${c.stderr.join('').slice(-1500)}`));
    });
  });
}

async function identityLatency(base: string, n = 20): Promise<{ ok: number; p50: number; max: number }> {
  const times: number[] = [];
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/api/node/identity`);
    await r.text();
    times.push(performance.now() - t0);
    if (r.status === 200) ok++;
  }
  times.sort((a, b) => a - b);
  return { ok, p50: quantile(times, 0.5), max: times.at(-1)! };
}

async function main(): Promise<void> {
  const hard = hardFdLimit();
  const nodeFiles = Math.min(hard, SOCKETS + 1024);
  const clientFiles = Math.min(hard, Math.ceil(SOCKETS / CLIENTS) + 1024);
  console.log(
    `device-sockets: ${SOCKETS} sockets = ${DEVICES} devices x ${PER_DEVICE}, ${CONCURRENCY} upgrades in flight, ${CLIENTS} client process(es)`,
  );
  console.log(`fd limits: hard ${hard}; node soft ${nodeFiles}; each client soft ${clientFiles}`);
  if (nodeFiles < SOCKETS + 64)
    console.log(`  warning: the hard fd limit (${hard}) leaves the node fewer fds than sockets; expect EMFILE near ${nodeFiles}`);

  const build = snapshotBuild();
  const snapDir = values['heap-snapshot'];
  const snapArgs = snapDir ? ['--heapsnapshot-signal=SIGHUP', `--diagnostic-dir=${snapDir}`] : [];
  const {
    c: node,
    adminToken,
    base,
  } = await startNodeProc(build, 'node', {
    nodeArgs: [...snapArgs, '--expose-gc', '--import', GC_PRELOAD],
    // The defaults cap sockets per session and pairing rates; this bench holds PER_DEVICE sockets per device.
    args: [
      '--limits',
      JSON.stringify({ maxSocketsPerSession: PER_DEVICE, pairStartsPerMinute: DEVICES * 2, pairLookupsPerMinute: DEVICES * 2 }),
    ],
    nofile: nodeFiles,
  });
  const startRss = (await node.memAfterGc()).rss;

  // Pair the devices as phones do (node:crypto Noise on this side: the phone's crypto is not what is measured).
  const tPair = performance.now();
  const devices: { sessionId: string; secret: string }[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const r = await fetch(`${base}/auth/pair/start`, {
      method: 'POST',
      headers: { authorization: `Admin ${adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    if (r.status !== 200) throw new Error(`pair/start: HTTP ${r.status} ${await r.text()}`);
    const start = (await r.json()) as { code: string; pin: string; fingerprint: string };
    const p = await pairWithNode({
      baseUrl: base,
      code: start.code,
      pin: start.pin,
      expectedFingerprint: start.fingerprint,
      identity: makePhone(`Bench phone ${i}`).pairing,
      suite: NODE_NOISE_SUITE,
    });
    devices.push({ sessionId: p.sessionId, secret: toBase64Url(p.deviceSecret) });
  }
  const pairMs = performance.now() - tPair;
  await sleep(500);
  const idle = await node.memAfterGc();
  const idleFds = fdCount(node.pid);
  console.log(`paired ${DEVICES} devices in ${(pairMs / 1000).toFixed(1)} s`);

  const clients: Child[] = [];
  for (let k = 0; k < CLIENTS; k++) {
    const c = spawnNode(`client${k}`, ['--import', 'tsx', join(REPO, 'bench/lib/socket-client.ts')], { nofile: clientFiles, ipc: true });
    clients.push(c);
  }
  await Promise.all(clients.map((c) => nextMessage(c, 'ready', 60_000)));

  // Split the sockets (not the devices) evenly: client k holds every device's sockets k, k+CLIENTS, ...
  const share = (k: number) => Math.floor(SOCKETS / CLIENTS) + (k < SOCKETS % CLIENTS ? 1 : 0);
  const progress = clients.map(() => ({ open: 0, failed: 0 }));
  clients.forEach((c, k) => {
    c.proc.on('message', (m: ClientMsg) => {
      if (m.type === 'progress') progress[k] = m;
    });
  });
  const ticker = setInterval(() => {
    const o = progress.reduce((s, p) => s + p.open, 0),
      f = progress.reduce((s, p) => s + p.failed, 0);
    process.stdout.write(`  opening... ${o} open, ${f} failed, node RSS ${MiB(node.rss())}\n`);
  }, 2000);
  const t0 = performance.now();
  const results = await Promise.all(
    clients.map(async (c, k) => {
      const done = nextMessage(c, 'opened');
      // Each client walks the device list in its own order so both start with every device.
      const rotated = [...devices.slice(k % devices.length), ...devices.slice(0, k % devices.length)];
      const perDevice = Math.ceil(share(k) / rotated.length);
      const n = share(k);
      c.proc.send({
        type: 'open',
        base,
        devices: rotated.slice(0, Math.min(rotated.length, n)),
        perDevice,
        total: n,
        concurrency: Math.ceil(CONCURRENCY / CLIENTS),
      });
      return done;
    }),
  );
  const openMs = performance.now() - t0;
  clearInterval(ticker);

  const opened = results.reduce((s, r) => s + r.open, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;

  await sleep(2000); // let the node settle (and show whether sockets drop on their own)
  const statuses = await Promise.all(
    clients.map((c) => {
      const p = nextMessage(c, 'status');
      c.proc.send({ type: 'check' });
      return p;
    }),
  );
  const stillOpen = statuses.reduce((s, x) => s + x.open, 0);
  const rawRss = node.rss();
  const loaded = await node.memAfterGc();
  const loadedFds = fdCount(node.pid);
  const ident = await identityLatency(base);
  if (snapDir) {
    const before = new Set(readdirSync(snapDir));
    process.kill(node.pid, 'SIGHUP');
    for (let i = 0; i < 600 && !readdirSync(snapDir).some((f) => !before.has(f) && f.endsWith('.heapsnapshot')); i++) await sleep(500);
    await sleep(3000); // written synchronously by the node; give it time to finish the file
    console.log(`heap snapshot with all sockets open written to ${snapDir}`);
  }

  const perConn = opened > 0 ? (loaded.rss - idle.rss) / opened : NaN;
  const perConnHeap = opened > 0 ? (loaded.heapUsed - idle.heapUsed) / opened : NaN;
  console.log('');
  console.log(`node RSS at start (no devices)        ${MiB(startRss)}`);
  console.log(`node RSS idle, ${DEVICES} devices paired     ${MiB(idle.rss)}   (heap used ${MiB(idle.heapUsed)}, fds ${idleFds})`);
  console.log(
    `node RSS with ${opened} sockets open     ${MiB(loaded.rss)}   (heap used ${MiB(loaded.heapUsed)}, fds ${loadedFds}; before GC ${MiB(rawRss)})`,
  );
  console.log(`RSS per connection                    ${KiB(perConn)}   (JS heap per connection ${KiB(perConnHeap)})`);
  console.log(
    `time to open all                      ${(openMs / 1000).toFixed(2)} s   (${Math.round(opened / (openMs / 1000))} upgrades/s, ${CONCURRENCY} in flight)`,
  );
  console.log(
    `sockets opened with hello             ${opened} / ${SOCKETS}${failed ? `   (${failed} failed: ${JSON.stringify(errors)})` : ''}`,
  );
  console.log(`still open 2 s later                  ${stillOpen}`);
  console.log(
    `GET /api/node/identity with all open  ${ident.ok}/20 answered 200, p50 ${ident.p50.toFixed(1)} ms, max ${ident.max.toFixed(1)} ms`,
  );
  console.log(`target 10,000 open: ${opened >= 10_000 && stillOpen >= 10_000 ? 'MET' : 'MISSED'}`);

  await Promise.all(
    clients.map((c) => {
      const p = nextMessage(c, 'closed', 60_000);
      c.proc.send({ type: 'close' });
      return p;
    }),
  );
  await sleep(1500);
  const after = await node.memAfterGc();
  console.log(`node RSS after the clients closed     ${MiB(after.rss)}   (heap used ${MiB(after.heapUsed)}, fds ${fdCount(node.pid)})`);
  for (const c of clients) c.proc.disconnect();
  await node.stop('SIGTERM');
}

main().then(cleanupAll, async (err: unknown) => {
  console.error(`device-sockets bench broke: ${(err as Error).stack ?? String(err)}`);
  await cleanupAll();
  process.exit(1);
});
