// The tables the message benches print (relay.ts, home-relay.ts): one row per path and round.
import type { LatencyResult, Path, ThroughputResult } from './load.js';

export const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? +x.toFixed(digits) : 'lost');

/** With an even count, the upper of the middle two. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function latencyTable(rows: { path: Path; r: number; x: LatencyResult }[], rounds: number): void {
  for (const { path, r, x } of rows)
    if (Object.keys(x.errors).length) console.log(`  ${path.name}${rounds > 1 ? ` round ${r + 1}` : ''}: ${JSON.stringify(x.errors)}`);
  console.table(
    rows.map(({ path, r, x }) => ({
      path: path.name,
      ...(rounds > 1 ? { round: r + 1 } : {}),
      'offered msg/s': Math.round(x.achievedRate),
      received: `${x.received}/${x.sent}`,
      'send errors': Object.values(x.errors).reduce((a, b) => a + b, 0),
      p50: fmt(x.p50),
      p90: fmt(x.p90),
      p99: fmt(x.p99),
      max: fmt(x.max, 1),
    })),
  );
}

export function throughputTable(rows: { path: Path; r: number; x: ThroughputResult }[], rounds: number): void {
  console.table(
    rows.map(({ path, r, x }) => ({
      path: path.name,
      ...(rounds > 1 ? { round: r + 1 } : {}),
      'msg/s': Math.round(x.perSec),
      received: `${x.received}/${x.sent}`,
      'p50 ms': +x.p50.toFixed(1),
      'p99 ms': +x.p99.toFixed(1),
      'middle procs': path.middle.length,
      'CPU ms/msg, middle': +x.cpuMsPerMsg.toFixed(3),
      each: x.cpuEach.map((c) => c.toFixed(2)).join(' / '),
      'CPU ms/msg, both phones': +x.clientCpuMsPerMsg.toFixed(3),
    })),
  );
  for (const { path, r, x } of rows)
    if (Object.keys(x.errors).length)
      console.log(`  ${path.name}${rounds > 1 ? ` round ${r + 1}` : ''} (throughput run): ${JSON.stringify(x.errors)}`);
}

/** The latency table (open loop at `rate`) and the throughput table (closed loop, `window` in flight). */
export function printLoadTables(
  paths: Path[],
  lat: Map<Path, LatencyResult[]>,
  tput: Map<Path, ThroughputResult[]>,
  o: { rate: number; window: number; rounds: number; cpuEach: string },
): void {
  console.log('');
  console.log(`latency, open loop at ${o.rate} msg/s (ms, scheduled send -> received by the phone):`);
  latencyTable(
    paths.flatMap((p) => lat.get(p)!.map((x, r) => ({ path: p, r, x }))),
    o.rounds,
  );
  console.log(`throughput, closed loop, ${o.window} in flight (CPU "each": ${o.cpuEach}):`);
  throughputTable(
    paths.flatMap((p) => tput.get(p)!.map((x, r) => ({ path: p, r, x }))),
    o.rounds,
  );
}
