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
import { makePhone, type Phone } from '../tests/helpers/test-node.js';
import { startBareChain } from './lib/bare-chain.js';
import { cloudRelayPath, startCloudProc } from './lib/cloud-relay.js';
import {
  closedLoop,
  closedLoopEach,
  type LatencyResult,
  openLoopEach,
  type Path,
  perPath,
  sleep,
  type ThroughputResult,
} from './lib/load.js';
import { cleanupAll, snapshotBuild } from './lib/procs.js';
import { latencyTable, median, printLoadTables } from './lib/report.js';
import { sealBatch } from './lib/sealing.js';

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
const PROF = values.prof ? ['--cpu-prof', '--cpu-prof-dir', values.prof] : [];

// ---- the real relay: cloud + two headless nodes ---------------------------------------------------------------

async function startRelay(build: string, phoneA: Phone, phoneB: Phone): Promise<Path> {
  const cloud = await startCloudProc(build, 'cloud', { nodeArgs: PROF });
  return cloudRelayPath(build, 'relay (2 nodes + cloud)', phoneA, phoneB, [cloud, cloud], { nodeArgs: PROF, undici: values.undici });
}

function rewriteInTree(dir: string, from: string, to: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = join(dir, e.name);
    if (e.isDirectory()) n += rewriteInTree(f, from, to);
    else if (f.endsWith('.js')) {
      const text = readFileSync(f, 'utf8');
      if (text.includes(from)) {
        writeFileSync(f, text.split(from).join(to));
        n++;
      }
    }
  }
  return n;
}

// ---- main -------------------------------------------------------------------------------------------------------

function latencyRatio(lat: Map<Path, LatencyResult[]>, bare: Path, relay: Path, label: string): void {
  const ratios = lat.get(relay)!.map((x, r) => x.p99 / lat.get(bare)![r]!.p99);
  const pr = median(ratios);
  const of = ROUNDS > 1 ? ` (median of ${ROUNDS} rounds)` : '';
  const lost = lat.get(relay)!.reduce((s, x) => s + (x.sent - x.received), 0);
  console.log(
    `ratio  p99 relay / p99 bare, ${label.padEnd(14)} = ${Number.isFinite(pr) ? pr.toFixed(2) : `n/a: over 1% of the relay's messages never arrived (${lost} lost)`}${of}   (target <= 3: ${pr <= 3 ? 'MET' : 'MISSED'})`,
  );
}

async function main(): Promise<void> {
  const perLatency = Math.round(RATE * SECONDS);
  const total = WARMUP + ROUNDS * (perLatency + COUNT);
  console.log(
    `relay bench: ${ROUNDS} round(s) of: latency at ${RATE} msg/s for ${SECONDS} s (${perLatency} msgs, open loop), then throughput over ${COUNT} msgs with ${WINDOW} in flight${SUSTAINED === 0 ? '' : `, then latency again at ${SUSTAINED === 'auto' ? "half the relay's maximum" : `${SUSTAINED} msg/s`}`}; ${WARMUP} warm-up msgs first`,
  );
  const phoneA = makePhone('Anna phone');
  const phoneB = makePhone('Bo phone');
  const { msgs } = await sealBatch(phoneA, phoneB, total);
  const warm = msgs.slice(0, WARMUP);
  let cursor = WARMUP;
  const take = (n: number) => {
    const batch = msgs.slice(cursor, cursor + n);
    cursor += n;
    return batch;
  };

  const paths: Path[] = [];
  if (ONLY !== 'relay') paths.push(await startBareChain(3));
  if (ONLY !== 'bare') {
    const build = snapshotBuild();
    const sync = values['sqlite-synchronous'];
    if (sync) {
      if (!/^(OFF|NORMAL|FULL|EXTRA)$/i.test(sync)) throw new Error('--sqlite-synchronous: OFF, NORMAL, FULL or EXTRA');
      const n = rewriteInTree(join(build, 'out/main'), 'synchronous = FULL', `synchronous = ${sync.toUpperCase()}`);
      console.log(
        `DIAGNOSTIC: the relay's SQLite files run with synchronous = ${sync.toUpperCase()} (${n} place(s) rewritten in the bench's copy of the build); the shipped code uses FULL`,
      );
    }
    paths.push(await startRelay(build, phoneA, phoneB));
  }
  const relayPath = paths.find((p) => p.name.startsWith('relay'));

  for (const p of paths) {
    await closedLoop(p, warm, 16); // warm-up: JIT, connections, SQLite pages
    await sleep(500);
  }
  // Rounds alternate the paths, so a busy moment on the shared machine hits both; medians over rounds.
  const lat = perPath<LatencyResult>(paths);
  const tput = perPath<ThroughputResult>(paths);
  const slow = perPath<LatencyResult>(paths);
  const slowRates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const latMsgs = take(perLatency);
    const tputMsgs = take(COUNT);
    await openLoopEach(paths, latMsgs, RATE, lat);
    await closedLoopEach(paths, tputMsgs, WINDOW, tput);
    if (SUSTAINED !== 0) {
      const max = tput.get(relayPath ?? paths[0]!)!.at(-1)!.perSec;
      const rate = SUSTAINED === 'auto' ? Math.max(10, Math.round(max / 2 / 10) * 10) : SUSTAINED;
      slowRates.push(rate);
      // Sealed now, while nothing is timed (the processes idle): the rate was not known before.
      const { msgs: more } = await sealBatch(phoneA, phoneB, Math.round(Math.max(rate * SECONDS, Math.min(500, rate * 30))));
      await openLoopEach(paths, more, rate, slow);
    }
  }

  printLoadTables(paths, lat, tput, {
    rate: RATE,
    window: WINDOW,
    rounds: ROUNDS,
    cpuEach: paths.map((p) => p.middle.map((c) => c.name).join(' / ')).join('; '),
  });
  if (SUSTAINED !== 0) {
    console.log(`latency, open loop at a rate the relay sustains (${[...new Set(slowRates)].join(', ')} msg/s):`);
    latencyTable(
      paths.flatMap((p) => slow.get(p)!.map((x, r) => ({ path: p, r, x }))),
      ROUNDS,
    );
  }
  if (paths.length === 2) {
    const [bare, relay] = paths as [Path, Path];
    latencyRatio(lat, bare, relay, `at ${RATE} msg/s`);
    if (SUSTAINED !== 0) latencyRatio(slow, bare, relay, `at ${[...new Set(slowRates)].join('/')} msg/s`);
    const tr = median(tput.get(relay)!.map((x, r) => x.perSec / tput.get(bare)![r]!.perSec));
    const relayMax = median(tput.get(relay)!.map((x) => x.perSec));
    console.log(
      `ratio  throughput relay / bare                = ${tr.toFixed(3)}${ROUNDS > 1 ? ` (median of ${ROUNDS} rounds)` : ''}   (target >= 0.3: ${tr >= 0.3 ? 'MET' : 'MISSED'})`,
    );
    if (relayMax < RATE)
      console.log(
        `note: the relay's closed-loop maximum here (${Math.round(relayMax)} msg/s) is below the offered ${RATE} msg/s, so at ${RATE} msg/s its latency is queueing (and, past 60 s in a queue, signed sends are refused as timestamp_skew).`,
      );
  }
  for (const p of paths) await p.close();
}

main().then(
  async () => {
    await cleanupAll();
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(`relay bench broke: ${(err as Error).stack ?? String(err)}`);
    await cleanupAll();
    process.exit(1);
  },
);
