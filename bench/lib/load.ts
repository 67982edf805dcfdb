// The load harness of the message benches (relay.ts, home-relay.ts): a Path is one way to get a message from a
// sending phone to a receiving phone (a real relay, or a bare forwarder chain as the baseline); openLoop() measures
// latency on a fixed schedule, closedLoop() throughput with a window of messages in flight, with the CPU time of
// the middle processes per message. See bench/README.md "bench/relay.ts" for what each number means.
import { type Child, cpuMs, quantile } from './procs.js';

/** How long a run waits, after its last send, for messages still on their way (then they count as lost). */
export const DRAIN_MS = 30_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `done`, or give up after `ms` (the timer does not outlive it). */
export async function within(done: Promise<void>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([
    done,
    new Promise<void>((r) => {
      t = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(t);
}

// ---- one path = a way to get bytes from the sending phone to the receiving phone -----------------------------

export interface Msg {
  id: string;
  json: string;
  obj: unknown;
}
export interface Path {
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
export async function quiesce(p: Path, limitMs = 180_000): Promise<void> {
  const end = performance.now() + limitMs;
  while (performance.now() < end && (p.pendingSends > 0 || performance.now() - p.lastReceiveAt < 2000)) await sleep(200);
}

export function countError(p: Path, why: string): void {
  p.errors.set(why, (p.errors.get(why) ?? 0) + 1);
}

// ---- the harness ----------------------------------------------------------------------------------------------

export interface LatencyResult {
  errors: Record<string, number>;
  sent: number;
  received: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  achievedRate: number;
}

export async function openLoop(path: Path, msgs: Msg[], rate: number): Promise<LatencyResult> {
  const scheduled = new Map<string, number>();
  const lat: number[] = [];
  path.errors.clear();
  let received = 0;
  let allIn: () => void = () => {};
  const done = new Promise<void>((r) => {
    allIn = r;
  });
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
  return {
    errors,
    sent: msgs.length,
    received,
    p50: quantile(lat, 0.5),
    p90: quantile(lat, 0.9),
    p99: quantile(lat, 0.99),
    max: lat.at(-1) ?? NaN,
    achievedRate: msgs.length / (sendSpan / 1000),
  };
}

export interface ThroughputResult {
  errors: Record<string, number>;
  sent: number;
  received: number;
  perSec: number;
  cpuMsPerMsg: number;
  cpuEach: number[];
  clientCpuMsPerMsg: number;
  p50: number;
  p99: number;
}

export async function closedLoop(path: Path, msgs: Msg[], window: number): Promise<ThroughputResult> {
  const sentAt = new Map<string, number>();
  const lat: number[] = [];
  path.errors.clear();
  let next = 0,
    received = 0;
  let allIn: () => void = () => {};
  const done = new Promise<void>((r) => {
    allIn = r;
  });
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
  let failed = 0,
    lastAt = 0;
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
  return {
    errors: Object.fromEntries(path.errors),
    sent: next,
    received,
    perSec: received / (elapsed / 1000),
    cpuMsPerMsg: cpu / n,
    cpuEach: each.map((x) => x / n),
    clientCpuMsPerMsg: (own.user + own.system) / 1000 / n,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
  };
}

/** Results per path, one per round. */
export type PerPath<T> = Map<Path, T[]>;
export const perPath = <T>(paths: Path[]): PerPath<T> => new Map(paths.map((p) => [p, [] as T[]]));

/**
 * One open-loop run per path, in turn, on the same messages; each path drains and the machine settles before
 * the next, so one path's backlog never lands in another's figures.
 */
export async function openLoopEach(paths: Path[], msgs: Msg[], rate: number, into: PerPath<LatencyResult>): Promise<void> {
  for (const p of paths) {
    into.get(p)!.push(await openLoop(p, msgs, rate));
    await quiesce(p);
    await sleep(1000);
  }
}

/** One closed-loop run per path, in turn, as openLoopEach. */
export async function closedLoopEach(paths: Path[], msgs: Msg[], window: number, into: PerPath<ThroughputResult>): Promise<void> {
  for (const p of paths) {
    into.get(p)!.push(await closedLoop(p, msgs, window));
    await quiesce(p);
    await sleep(500);
  }
}
