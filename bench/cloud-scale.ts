// The relay of bench/relay.ts (phone -> node A -> cloud -> node B -> phone) with the cloud as one instance on
// SQLite, one instance on PostgreSQL, and two instances on PostgreSQL + a NATS bus (node A on instance 1, node B
// on instance 2, so every message crosses the bus), against the bare forwarder chain in the same run
// (see bench/README.md).
//
//   npm run build && node --import tsx bench/cloud-scale.ts [--count 3000] [--window 64] [--warmup 300]
//                    [--rounds 1] [--setups sqlite,postgres,postgres+bus] [--pg-fsync on|off] [--undici]
//
// Throughput only: closed loop, --window messages in flight, --count messages, per path in turn each round. The
// cloud's cost is the CPU time (user + sys, /proc/<pid>/stat) of its process(es) over the run, per message
// received; PostgreSQL's and nats-server's own CPU is not in it. The bench starts its own PostgreSQL cluster
// (fsync on, like the SQLite cloud's synchronous = FULL) and nats-server with the test helpers, and removes them.
// A setup that cannot start is reported as n/a with the reason, and the bench then exits 1 after its figures.
// Never exits non-zero because of a figure.
import './quiet-logs.js';
import { parseArgs } from 'node:util';
import { natsSkipReason, startNatsServer } from '../tests/helpers/nats-server.js';
import { postgresSkipReason, startPostgresCluster } from '../tests/helpers/postgres-cluster.js';
import { makePhone, type Phone } from '../tests/helpers/test-node.js';
import { startBareChain } from './lib/bare-chain.js';
import { cloudRelayPath, startCloudProc } from './lib/cloud-relay.js';
import { closedLoop, closedLoopEach, type Path, perPath, sleep, type ThroughputResult } from './lib/load.js';
import { cleanupAll, onCleanup, snapshotBuild } from './lib/procs.js';
import { median, throughputTable } from './lib/report.js';
import { sealBatch } from './lib/sealing.js';

const SETUPS = ['sqlite', 'postgres', 'postgres+bus'] as const;
type Setup = (typeof SETUPS)[number];

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '3000' },
    window: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '1' },
    setups: { type: 'string', default: SETUPS.join(',') },
    'pg-fsync': { type: 'string', default: 'on' },
    undici: { type: 'boolean', default: false },
  },
});
const COUNT = Number(values.count);
const WINDOW = Number(values.window);
const WARMUP = Number(values.warmup);
const ROUNDS = Math.max(1, Number(values.rounds));
const WANTED = values.setups.split(',').map((s) => s.trim()) as Setup[];
for (const s of WANTED) if (!SETUPS.includes(s)) throw new Error(`--setups: ${s} is none of ${SETUPS.join(', ')}`);
if (!/^(on|off)$/.test(values['pg-fsync'])) throw new Error('--pg-fsync: on or off');

interface Running {
  path: Path;
  /** Where the cloud process(es) are in path.middle (between node A and node B). */
  cloudIdx: number[];
}

/** Starts what each wanted setup needs; a setup that cannot start is left out with the reason. */
async function startSetups(
  build: string,
  phoneA: Phone,
  phoneB: Phone,
): Promise<{ running: Map<Setup, Running>; failed: Map<Setup, string> }> {
  const running = new Map<Setup, Running>();
  const failed = new Map<Setup, string>();
  const relay = async (setup: Setup, name: string, start: () => Promise<Path>) => {
    try {
      const path = await start();
      running.set(setup, { path, cloudIdx: path.middle.slice(1, -1).map((_, k) => k + 1) });
    } catch (err) {
      const lines = (err as Error).message.split('\n');
      console.log(`${name}: could not start: ${lines.slice(0, 3).join(' / ')}`);
      // The cloud's own one-line reason where it gave one (e.g. a flag this build does not know).
      failed.set(
        setup,
        `could not start: ${lines.find((l) => l.includes('[salita-cloud]'))?.replace(/^.*\[salita-cloud\] /, '') ?? lines[0]}`,
      );
    }
  };
  const opts = { undici: values.undici };
  if (WANTED.includes('sqlite'))
    await relay('sqlite', 'cloud on sqlite', async () => {
      const cloud = await startCloudProc(build, 'cloud-sqlite', { instance: 'sqlite' });
      return cloudRelayPath(build, 'relay, cloud on sqlite', phoneA, phoneB, [cloud, cloud], opts);
    });
  const pgSetups = WANTED.filter((s) => s !== 'sqlite');
  if (pgSetups.length === 0) return { running, failed };
  const missing = postgresSkipReason() ?? (WANTED.includes('postgres+bus') ? natsSkipReason() : undefined);
  if (missing) {
    for (const s of pgSetups) failed.set(s, missing);
    return { running, failed };
  }
  const pg = await startPostgresCluster({ fsync: values['pg-fsync'] === 'on' });
  onCleanup(() => pg.stop());
  if (WANTED.includes('postgres'))
    await relay('postgres', 'cloud on postgres', async () => {
      const cloud = await startCloudProc(build, 'cloud-pg', { database: pg.createDatabase('bench_postgres'), instance: 'postgres' });
      return cloudRelayPath(build, 'relay, cloud on postgres', phoneA, phoneB, [cloud, cloud], opts);
    });
  if (WANTED.includes('postgres+bus')) {
    const nats = await startNatsServer();
    onCleanup(() => nats.stop());
    await relay('postgres+bus', 'two clouds on postgres + bus', async () => {
      const database = pg.createDatabase('bench_bus');
      const one = await startCloudProc(build, 'cloud-bus-1', { database, bus: nats.url, instance: 'bus-1' });
      const two = await startCloudProc(build, 'cloud-bus-2', { database, bus: nats.url, instance: 'bus-2', keyOf: one });
      return cloudRelayPath(build, 'relay, 2 clouds on postgres + bus', phoneA, phoneB, [one, two], opts);
    });
  }
  return { running, failed };
}

async function main(): Promise<number> {
  console.log(
    `cloud-scale bench: ${ROUNDS} round(s) of throughput over ${COUNT} msgs with ${WINDOW} in flight per path; ${WARMUP} warm-up msgs first; setups ${WANTED.join(', ')}; PostgreSQL fsync ${values['pg-fsync']}`,
  );
  const phoneA = makePhone('Anna phone');
  const phoneB = makePhone('Bo phone');
  const { msgs } = await sealBatch(phoneA, phoneB, WARMUP + ROUNDS * COUNT);
  const warm = msgs.slice(0, WARMUP);

  const bare = await startBareChain(3);
  const { running, failed } = await startSetups(snapshotBuild(), phoneA, phoneB);
  const paths = [bare, ...[...running.values()].map((r) => r.path)];
  for (const p of paths) {
    await closedLoop(p, warm, 16); // warm-up: JIT, connections, database pages
    await sleep(500);
  }
  // Rounds run the paths in turn, so a busy moment on the shared machine hits all of them; medians over rounds.
  const tput = perPath<ThroughputResult>(paths);
  for (let r = 0; r < ROUNDS; r++) await closedLoopEach(paths, msgs.slice(WARMUP + r * COUNT, WARMUP + (r + 1) * COUNT), WINDOW, tput);

  console.log('');
  console.log(`throughput, closed loop, ${WINDOW} in flight (CPU "each": fwd1 / fwd2 / fwd3; node-A / cloud(s) / node-B):`);
  throughputTable(
    paths.flatMap((p) => tput.get(p)!.map((x, r) => ({ path: p, r, x }))),
    ROUNDS,
  );
  for (const p of paths)
    for (const x of tput.get(p)!)
      if (x.received < x.sent)
        console.log(`note: ${p.name} received ${x.received} of ${x.sent}: throughput and CPU count received messages only`);

  const ratio = new Map<Setup, number>();
  const cloudCpu = new Map<Setup, number>();
  for (const [setup, { path, cloudIdx }] of running) {
    const runs = tput.get(path)!;
    ratio.set(setup, median(runs.map((x, r) => x.perSec / tput.get(bare)![r]!.perSec)));
    cloudCpu.set(setup, median(runs.map((x) => cloudIdx.reduce((s, k) => s + x.cpuEach[k]!, 0))));
  }
  for (const s of SETUPS) if (!running.has(s)) console.log(`${s}: n/a (${failed.get(s) ?? 'not asked for: --setups'})`);
  if (ROUNDS > 1) console.log(`(ratios and CPU are medians of ${ROUNDS} rounds)`);
  const num = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
  for (const s of SETUPS) console.log(`ratio throughput ${s} / bare = ${num(ratio.get(s), 3)}`);
  for (const s of SETUPS) console.log(`cloud cpu per message ${s} = ${num(cloudCpu.get(s), 3)} ms`);
  const withBus = cloudCpu.get('postgres+bus');
  const without = cloudCpu.get('postgres');
  console.log(
    `bus cost per message = ${num(withBus !== undefined && without !== undefined ? withBus - without : undefined, 3)} ms (target <= 0.5)`,
  );

  for (const p of paths) await p.close();
  return failed.size > 0 ? 1 : 0;
}

main().then(
  async (code) => {
    await cleanupAll();
    process.exit(code);
  },
  async (err: unknown) => {
    console.error(`cloud-scale bench broke: ${(err as Error).stack ?? String(err)}`);
    await cleanupAll();
    process.exit(1);
  },
);
