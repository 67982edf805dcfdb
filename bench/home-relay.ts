// Phone -> phone inside one home, against bare `ws` forwarder chains with the same number of middle processes,
// all in the same run (see bench/README.md "bench/home-relay.ts").
//
//   npm run build && node --import tsx bench/home-relay.ts [--rate 200] [--seconds 5] [--count 2000] [--window 64]
//                                                       [--rounds 1] [--warmup 200] [--only lan|local] [--prof DIR]
//
// lan:   A-phone --signed POST /api/messages--> A-node --peer link (WS /api/peer/link)--> B-node --device WS
//        push--> B-phone; compared with: sender --ws--> fwd1 --ws--> fwd2 --ws--> receiver (two middle processes).
// local: phone --POST--> node --device WS push--> another phone of the same node; compared with:
//        sender --ws--> fwd1 --ws--> receiver (one middle process).
// Every node is the built code (a private copy of out/main), its own process, durability as shipped (SQLite
// synchronous = FULL). The receiving phone acks its inbox every 200 ms as the phone page does. Both phones of a
// path are this process (one clock), both paths of a pair carry the same bytes ({"envelope": <a real sealed
// envelope>}), the envelopes are sealed before anything is timed.
//   latency:    open loop at --rate msg/s for --seconds (latency = receive time - the scheduled send time).
//   throughput: closed loop, --window messages in flight, --count messages; CPU per message per middle process.
// The LAST four lines are the ratios (p99 and throughput, lan and local), each the median over --rounds.
// Targets: p99 ratio <= 3 at 200 msg/s, throughput ratio >= 0.3. Never exits non-zero because of a figure.
import './quiet-logs.js';
import { parseArgs } from 'node:util';
import { makePhone, type Phone } from '../tests/helpers/test-node.js';
import { startBareChain } from './lib/bare-chain.js';
import {
  closedLoop,
  closedLoopEach,
  type LatencyResult,
  type Msg,
  openLoopEach,
  type Path,
  perPath,
  quiesce,
  type ThroughputResult,
} from './lib/load.js';
import { pairBenchPhone, pairDesktops, phoneToPhonePath, startNodeProc, until } from './lib/node-proc.js';
import { cleanupAll, snapshotBuild } from './lib/procs.js';
import { median, printLoadTables } from './lib/report.js';
import { sealBatch } from './lib/sealing.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '5' },
    count: { type: 'string', default: '2000' },
    window: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    only: { type: 'string' }, // 'lan' | 'local': one comparison (with its bare chain) alone
    prof: { type: 'string' }, // a folder: every node writes a V8 CPU profile there (--cpu-prof)
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const COUNT = Number(values.count);
const WINDOW = Number(values.window);
const WARMUP = Number(values.warmup);
const ROUNDS = Math.max(1, Number(values.rounds));
const ONLY = values.only;
if (ONLY !== undefined && ONLY !== 'lan' && ONLY !== 'local') throw new Error('--only: lan or local');
const PROF = values.prof ? ['--cpu-prof', '--cpu-prof-dir', values.prof] : [];

/** One comparison: a real path and its bare chain (same number of middle processes), with their envelopes. */
interface Pair {
  label: 'lan' | 'local';
  real: Path;
  bare: Path;
  from: Phone;
  to: Phone;
}

/** A and B, paired with each other as desktops (B's URL + PIN typed on A), a phone each; waits for the peer link. */
async function startLan(build: string, phoneA: Phone, phoneB: Phone): Promise<Path> {
  const [A, B] = await Promise.all([
    startNodeProc(build, 'node-A', { nodeArgs: PROF }),
    startNodeProc(build, 'node-B', { nodeArgs: PROF }),
  ]);
  const a = await pairBenchPhone(A, phoneA);
  const b = await pairBenchPhone(B, phoneB);
  await pairDesktops(A, B);
  await until(
    "B-phone reachable over the LAN in A-phone's directory (the peer link up)",
    async () => {
      const r = await a.request<{ devices: { device_id: string; route?: string }[] }>('GET', '/api/messages/directory');
      if (r.status !== 200) throw new Error(`directory: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.devices.some((d) => d.device_id === phoneB.identity.node_id && d.route === 'lan');
    },
    120_000,
  );
  return phoneToPhonePath('lan (2 nodes, peer link)', [A.c, B.c], a, b, async () => {
    await Promise.all([A.c.stop(), B.c.stop()]);
  });
}

/** One node with two phones: phone -> node -> phone. */
async function startLocal(build: string, from: Phone, to: Phone): Promise<Path> {
  const N = await startNodeProc(build, 'node-L', { nodeArgs: PROF });
  const a = await pairBenchPhone(N, from);
  const b = await pairBenchPhone(N, to);
  return phoneToPhonePath('local (1 node)', [N.c], a, b, async () => {
    await N.c.stop();
  });
}

const ratioText = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const perLatency = Math.round(RATE * SECONDS);
  const per = WARMUP + ROUNDS * (perLatency + COUNT);
  const labels = (ONLY ? [ONLY] : ['lan', 'local']) as ('lan' | 'local')[];
  console.log(
    `home-relay bench: ${labels.join(' and ')}; ${ROUNDS} round(s) of: latency at ${RATE} msg/s for ${SECONDS} s (${perLatency} msgs, open loop), then throughput over ${COUNT} msgs with ${WINDOW} in flight; ${WARMUP} warm-up msgs first`,
  );
  const build = snapshotBuild();
  const pairs: Pair[] = [];
  for (const label of labels) {
    const from = makePhone(label === 'lan' ? 'Anna phone' : 'Anna phone (local)');
    const to = makePhone(label === 'lan' ? 'Bo phone' : 'Anna tablet');
    const bare = await startBareChain(label === 'lan' ? 2 : 1, `bare ws chain, ${label === 'lan' ? 2 : 1} fwd`);
    const real = label === 'lan' ? await startLan(build, from, to) : await startLocal(build, from, to);
    pairs.push({ label, real, bare, from, to });
  }
  // Each comparison's envelopes, sealed now (nothing is timed yet): the same bytes go through both of its paths.
  const msgs = new Map<Pair, Msg[]>();
  for (const p of pairs) msgs.set(p, (await sealBatch(p.from, p.to, per)).msgs);
  const cursor = new Map<Pair, number>(pairs.map((p) => [p, WARMUP]));
  const take = (p: Pair, n: number) => {
    const at = cursor.get(p)!;
    cursor.set(p, at + n);
    return msgs.get(p)!.slice(at, at + n);
  };

  const paths = pairs.flatMap((p) => [p.bare, p.real]);
  for (const p of pairs)
    for (const path of [p.bare, p.real]) {
      await closedLoop(path, msgs.get(p)!.slice(0, WARMUP), 16); // warm-up: JIT, connections, SQLite pages
      await quiesce(path);
    }
  // Rounds alternate the paths, so a busy moment on the shared machine hits each; medians over rounds.
  const lat = perPath<LatencyResult>(paths);
  const tput = perPath<ThroughputResult>(paths);
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of pairs) await openLoopEach([p.bare, p.real], take(p, perLatency), RATE, lat);
    for (const p of pairs) await closedLoopEach([p.bare, p.real], take(p, COUNT), WINDOW, tput);
  }
  printLoadTables(paths, lat, tput, {
    rate: RATE,
    window: WINDOW,
    rounds: ROUNDS,
    cpuEach: paths.map((p) => `${p.name}: ${p.middle.map((c) => c.name).join(' / ')}`).join('; '),
  });

  const results = pairs.map((p) => {
    const p99 = median(lat.get(p.real)!.map((x, r) => x.p99 / lat.get(p.bare)![r]!.p99));
    const thr = median(tput.get(p.real)!.map((x, r) => x.perSec / tput.get(p.bare)![r]!.perSec));
    const lost = lat.get(p.real)!.reduce((s, x) => s + (x.sent - x.received), 0);
    const max = median(tput.get(p.real)!.map((x) => x.perSec));
    return { p, p99, thr, lost, max };
  });
  for (const { p, p99, thr, lost, max } of results) {
    const of = ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : '';
    console.log(
      `target ${p.label}: p99 ratio <= 3: ${p99 <= 3 ? 'MET' : 'MISSED'}; throughput ratio >= 0.3: ${thr >= 0.3 ? 'MET' : 'MISSED'}${of}${lost ? `; ${lost} message(s) never arrived in the latency runs (counted as infinitely late)` : ''}${max < RATE ? `; its closed-loop maximum (${Math.round(max)} msg/s) is below ${RATE} msg/s, so its latency there is queueing` : ''}`,
    );
  }
  for (const p of pairs) {
    await p.real.close();
    await p.bare.close();
  }
  // The last lines, exactly in this form (scripts read them).
  for (const { p, p99, thr } of results) {
    console.log(`ratio p99 ${p.label} / p99 bare at ${RATE} msg/s = ${ratioText(p99, 2)}`);
    console.log(`ratio throughput ${p.label} / bare = ${ratioText(thr, 3)}`);
  }
}

main().then(
  async () => {
    await cleanupAll();
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(`home-relay bench broke: ${(err as Error).stack ?? String(err)}`);
    await cleanupAll();
    process.exit(1);
  },
);
