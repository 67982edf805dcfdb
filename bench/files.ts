// File transfer through nodes, against a bare node:http file server in the same run (see bench/README.md
// "bench/files.ts").
//
//   npm run build && node --import tsx bench/files.ts [--mib 256] [--rounds 1] [--request-mib 16] [--cipher-mib 64]
//                                                    [--warmup-mib 16] [--prof DIR]
//
// bare:       a minimal node:http server (bench/lib/bare-file-server.ts, its own process): a create, appends of
//             --request-mib at an offset, one streamed GET. The baseline.
// one node:   phone 1 uploads the same bytes (the "ciphertext") with tus to a built headless node (POST
//             /api/files, then signed PATCHes of --request-mib, each declaring its body's SHA-256), phone 2 of the
//             same node downloads GET /api/files/<id>.
// peer link:  phone 1 uploads to node A for phone 2 of node B (A and B paired as desktops); B pulls the blob over
//             the peer link; phone 2 downloads from B once B has it all (B answers 409 blob_not_ready until then).
// Throughput = 2 x the file / the time from the first upload request to the last byte downloaded. What comes
// back is hashed and must equal what went up. Every server's RSS is sampled every 50 ms (VmRSS): growth = the
// maximum during the transfer - the baseline right before it. Then the file cipher's speed per core, @noble and
// node:crypto. The LAST two lines are the throughput ratio one node / bare (target >= 0.5) and the largest node
// RSS growth (target <= 64 MiB). Never exits non-zero because of a figure, only if the bench broke.
import './quiet-logs.js';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_FILE_SUITE } from '../src/server/crypto/file-stream-node.js';
import type { DeviceClient } from '../src/shared/client/device-client.js';
import { FILE_CHUNK_BYTES, type FileCipherSuite, FileEncryptor, NOBLE_FILE_SUITE } from '../src/shared/e2ee/file-stream.js';
import { makePhone } from '../tests/helpers/test-node.js';
import { call, download, type FileEndpoint, meanRss, type Piece, piecesOf, RssSampler, upload } from './lib/file-transfer.js';
import { type NodeProc, pairBenchPhone, pairDesktops, startNodeProc, until } from './lib/node-proc.js';
import { type Child, cleanupAll, cpuMs, REPO, snapshotBuild, spawnNode, tempDir } from './lib/procs.js';
import { median } from './lib/report.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '1' },
    'request-mib': { type: 'string', default: '16' },
    'cipher-mib': { type: 'string', default: '64' },
    'warmup-mib': { type: 'string', default: '16' },
    prof: { type: 'string' }, // a folder: every node writes a V8 CPU profile there (--cpu-prof)
  },
});
const MiB = 1024 * 1024;
const SIZE = Math.round(Number(values.mib) * MiB);
const ROUNDS = Math.max(1, Number(values.rounds));
const REQUEST = Math.round(Number(values['request-mib']) * MiB);
const CIPHER = Math.round(Number(values['cipher-mib']) * MiB);
const WARMUP = Math.round(Number(values['warmup-mib']) * MiB);
const PROF = values.prof ? ['--cpu-prof', '--cpu-prof-dir', values.prof] : [];
if (!(SIZE > 0 && REQUEST > 0 && CIPHER > 0)) throw new Error('--mib, --request-mib and --cipher-mib: positive numbers');

const agent = () => new http.Agent({ keepAlive: true, maxSockets: 4 });

function bareEndpoint(base: string): FileEndpoint {
  const a = agent();
  return {
    base,
    agent: a,
    async create() {
      const r = await call(a, base, 'POST', '/f', {});
      if (r.status !== 201) throw new Error(`bare create: HTTP ${r.status} ${r.text}`);
      return '/f';
    },
    appendHeaders: (_path, offset) => ({ 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
    downloadHeaders: () => ({}),
  };
}

/** A phone on a node: tus with signed requests; `to` is the recipient of what it uploads. */
function nodeEndpoint(node: NodeProc, client: DeviceClient, to: string): FileEndpoint {
  const a = agent();
  return {
    base: node.base,
    agent: a,
    async create(size) {
      const path = '/api/files';
      const r = await call(a, node.base, 'POST', path, {
        ...client.signedHeaders('POST', path),
        'tus-resumable': '1.0.0',
        'upload-length': String(size),
        'upload-metadata': `to ${Buffer.from(to).toString('base64')}`,
      });
      const location = r.headers.location;
      if (r.status !== 201 || !location) throw new Error(`tus create on ${node.c.name}: HTTP ${r.status} ${r.text}`);
      return new URL(location, node.base).pathname;
    },
    appendHeaders: (path, offset, digest) => ({
      ...client.signedHeaders('PATCH', path, digest),
      'x-content-sha256': digest,
      'tus-resumable': '1.0.0',
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
    }),
    downloadHeaders: (path) => client.signedHeaders('GET', path),
  };
}

interface TestFile {
  size: number;
  sha256: string;
  pieces: Piece[];
}

const testFile = (bytes: Uint8Array): TestFile => ({
  size: bytes.length,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  pieces: piecesOf(bytes, REQUEST),
});

interface CaseResult {
  name: string;
  round: number;
  totalMs: number;
  uploadMs: number;
  waitMs: number;
  downloadMs: number;
  refusals: number;
  /** idle: before the first transfer this process ever served; base: right before this one. */
  rss: { name: string; idle: number; base: number; max: number }[];
  cpu: { name: string; ms: number }[];
  clientCpuMs: number;
  isNode: boolean;
  window: [number, number];
}

/** One transfer: upload through `up`, download through `down`; `procs` are the servers measured. */
async function runCase(
  name: string,
  round: number,
  up: FileEndpoint,
  down: FileEndpoint,
  procs: Child[],
  file: TestFile,
  idle: Map<string, number>,
): Promise<{ result: CaseResult; path: string }> {
  const { pieces, sha256, size } = file;
  const sampler = new RssSampler(new Map(procs.map((c) => [c.name, c.pid])));
  await sampler.start();
  const cpu0 = procs.map((c) => cpuMs(c.pid));
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const hr0 = process.hrtime.bigint();
  const path = await upload(up, pieces, size);
  const t1 = performance.now();
  const got = await download(down, path);
  const t2 = performance.now();
  const hr2 = process.hrtime.bigint();
  sampler.stop();
  const client = process.cpuUsage(client0);
  if (got.bytes !== size || got.sha256 !== sha256)
    throw new Error(`${name}: downloaded ${got.bytes} bytes with SHA-256 ${got.sha256}; uploaded ${size} with ${sha256}`);
  return {
    path,
    result: {
      name,
      round,
      totalMs: t2 - t0,
      uploadMs: t1 - t0,
      waitMs: got.waitedMs,
      downloadMs: t2 - t1 - got.waitedMs,
      refusals: got.refusals,
      rss: procs.map((c) => ({
        name: c.name,
        idle: idle.get(c.name)!,
        base: sampler.baseline.get(c.name)!,
        max: sampler.max.get(c.name)!,
      })),
      cpu: procs.map((c, i) => ({ name: c.name, ms: cpuMs(c.pid) - cpu0[i]! })),
      clientCpuMs: (client.user + client.system) / 1000,
      isNode: name !== 'bare',
      // CLOCK_MONOTONIC in µs, the clock of V8's CPU profiles (their startTime and samples), to cut a window out.
      window: [Number(hr0 / 1000n), Number(hr2 / 1000n)],
    },
  };
}

/** Untimed: the recipient says it has the file, and the nodes drop their copies before the next transfer. */
async function forget(
  path: string,
  nodes: { node: NodeProc; client: DeviceClient }[],
  recipient: { node: NodeProc; client: DeviceClient },
) {
  const a = agent();
  const received = `${path}/received`;
  const r = await call(a, recipient.node.base, 'POST', received, recipient.client.signedHeaders('POST', received));
  if (r.status !== 200) throw new Error(`POST ${received}: HTTP ${r.status} ${r.text}`);
  for (const { node, client } of nodes) {
    const status = `${path}/status`;
    await until(
      `${node.c.name} removed the file once everyone had it`,
      async () => (await call(a, node.base, 'GET', status, client.signedHeaders('GET', status))).status === 404,
      60_000,
    );
  }
  a.destroy();
}

/** MB/s (10^6 bytes) of one core: the file cipher over `plain` in 64 KiB chunks, by this process's CPU time. */
function cipherSpeed(suite: FileCipherSuite, plain: Uint8Array): number {
  const run = (bytes: Uint8Array) => {
    const enc = new FileEncryptor(randomBytes(32), bytes.length, FILE_CHUNK_BYTES, suite);
    let out = 0;
    for (let i = 0; i < enc.chunks; i++) {
      const [a, b] = enc.chunkPlaintextRange(i);
      out += enc.encryptChunk(i, bytes.subarray(a, b)).length;
    }
    return out;
  };
  run(plain.subarray(0, Math.min(plain.length, 4 * MiB))); // warm-up (JIT)
  const c0 = process.cpuUsage();
  const out = run(plain);
  const c = process.cpuUsage(c0);
  if (out !== new FileEncryptor(new Uint8Array(32), plain.length, FILE_CHUNK_BYTES, suite).ciphertextSize) throw new Error('cipher size');
  return plain.length / 1e6 / ((c.user + c.system) / 1e6);
}

const mib = (n: number) => +(n / MiB).toFixed(1);
const s = (ms: number) => +(ms / 1000).toFixed(2);

async function main(): Promise<void> {
  console.log(
    `files bench: ${mib(SIZE)} MiB of random bytes (the "ciphertext"), uploaded in requests of ${mib(REQUEST)} MiB, then downloaded in one GET; ${ROUNDS} round(s) of bare, one node, peer link, after an untimed round of ${mib(WARMUP)} MiB`,
  );
  const data = randomBytes(SIZE);
  const file = testFile(data);

  const build = snapshotBuild();
  const bareProc = spawnNode('bare', ['--import', 'tsx', join(REPO, 'bench/lib/bare-file-server.ts'), '--dir', tempDir()]);
  const barePort = Number((await bareProc.waitFor(/^BARE_FILES (\d+)$/, 30_000))[1]);
  const bare = bareEndpoint(`http://127.0.0.1:${barePort}`);

  const [N, A, B] = await Promise.all([
    startNodeProc(build, 'node', { nodeArgs: PROF }),
    startNodeProc(build, 'node-A', { nodeArgs: PROF }),
    startNodeProc(build, 'node-B', { nodeArgs: PROF }),
  ]);
  const [phone1, phone2, phoneA, phoneB] = [
    makePhone('Anna phone'),
    makePhone('Anna tablet'),
    makePhone('Anna phone (A)'),
    makePhone('Bo phone (B)'),
  ];
  const n1 = await pairBenchPhone(N, phone1);
  const n2 = await pairBenchPhone(N, phone2);
  const a1 = await pairBenchPhone(A, phoneA);
  const b2 = await pairBenchPhone(B, phoneB);
  await pairDesktops(A, B);
  await until(
    "B's phone reachable over the LAN in A's phone's directory (the peer link up)",
    async () => {
      const r = await a1.request<{ devices: { device_id: string; route?: string }[] }>('GET', '/api/messages/directory');
      if (r.status !== 200) throw new Error(`directory: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.devices.some((d) => d.device_id === phoneB.identity.node_id && d.route === 'lan');
    },
    120_000,
  );
  const local = { up: nodeEndpoint(N, n1, phone2.identity.node_id), down: nodeEndpoint(N, n2, phone1.identity.node_id) };
  const lan = { up: nodeEndpoint(A, a1, phoneB.identity.node_id), down: nodeEndpoint(B, b2, phoneA.identity.node_id) };

  /** One round: the three paths one after the other, each node's copies dropped before the next transfer. */
  const round = async (r: number, f: TestFile): Promise<CaseResult[]> => {
    const out = [(await runCase('bare', r, bare, bare, [bareProc], f, idle)).result];
    const one = await runCase('one node', r, local.up, local.down, [N.c], f, idle);
    out.push(one.result);
    await forget(one.path, [{ node: N, client: n1 }], { node: N, client: n2 });
    const link = await runCase('peer link', r, lan.up, lan.down, [A.c, B.c], f, idle);
    out.push(link.result);
    await forget(
      link.path,
      [
        { node: A, client: a1 },
        { node: B, client: b2 },
      ],
      { node: B, client: b2 },
    );
    return out;
  };
  // Memory is measured from before the warm-up: a heap it grew and kept is still this kind of transfer's cost.
  const idle = new Map<string, number>();
  for (const c of [bareProc, N.c, A.c, B.c]) idle.set(c.name, await meanRss(c.pid));
  // Untimed first: JIT, the first file in each folder, the SQLite pages, the connections (every path alike).
  if (WARMUP > 0) await round(-1, testFile(data.subarray(0, Math.min(WARMUP, SIZE))));
  const results: CaseResult[] = [];
  for (let r = 0; r < ROUNDS; r++) results.push(...(await round(r, file)));
  for (const ep of [bare, local.up, local.down, lan.up, lan.down]) ep.agent.destroy();
  await Promise.all([N.c.stop(), A.c.stop(), B.c.stop(), bareProc.stop()]);
  if (values.prof) {
    // Which profile is which node, and when each transfer ran: tools can look at the transfer alone.
    const procs = Object.fromEntries([N, A, B].map((n) => [n.c.name, n.c.pid]));
    const windows = results.map((x) => ({ case: x.name, round: x.round + 1, from_us: x.window[0], to_us: x.window[1] }));
    writeFileSync(join(values.prof, 'files-bench-windows.json'), `${JSON.stringify({ pids: procs, windows }, null, 2)}\n`);
  }

  console.log('');
  console.log(`throughput (MiB/s = 2 x ${mib(SIZE)} MiB / total; wait = the receiving node still pulling, answering 409):`);
  console.table(
    results.map((x) => ({
      case: x.name,
      ...(ROUNDS > 1 ? { round: x.round + 1 } : {}),
      'MiB/s': +((2 * SIZE) / MiB / (x.totalMs / 1000)).toFixed(1),
      'total s': s(x.totalMs),
      'upload s': s(x.uploadMs),
      'wait s': s(x.waitMs),
      'download s': s(x.downloadMs),
      'CPU s, servers': x.cpu.map((c) => `${c.name} ${s(c.ms)}`).join(' / '),
      'CPU s, client': s(x.clientCpuMs),
    })),
  );
  console.log(
    'server RSS (VmRSS every 50 ms; idle = before the first transfer, warm-up included; growth = max during the transfer - idle; "since before" = max - right before it):',
  );
  console.table(
    results.flatMap((x) =>
      x.rss.map((p) => ({
        case: x.name,
        ...(ROUNDS > 1 ? { round: x.round + 1 } : {}),
        process: p.name,
        'idle MiB': mib(p.idle),
        'right before MiB': mib(p.base),
        'max MiB': mib(p.max),
        'growth MiB': mib(p.max - p.idle),
        'since before MiB': mib(p.max - p.base),
      })),
    ),
  );

  const perRound = (name: string) =>
    median(
      results.filter((x) => x.name === name).map((x) => results.find((b) => b.name === 'bare' && b.round === x.round)!.totalMs / x.totalMs),
    );
  const ratioOne = perRound('one node');
  const ratioLink = perRound('peer link');
  const growth = Math.max(...results.filter((x) => x.isNode).flatMap((x) => x.rss.map((p) => p.max - p.idle)));
  const of = ROUNDS > 1 ? ` (median of ${ROUNDS} rounds)` : '';
  console.log(`ratio throughput files over the peer link / bare = ${ratioLink.toFixed(2)}${of}`);

  const plain = data.subarray(0, Math.min(CIPHER, data.length));
  console.log(`file encryption @noble = ${cipherSpeed(NOBLE_FILE_SUITE, plain).toFixed(0)} MB/s per core`);
  console.log(`file encryption node:crypto = ${cipherSpeed(NODE_FILE_SUITE, plain).toFixed(0)} MB/s per core`);
  console.log(
    `target throughput files / bare >= 0.5: ${ratioOne >= 0.5 ? 'MET' : 'MISSED'}${of}; target node RSS growth <= 64 MiB: ${growth <= 64 * MiB ? 'MET' : 'MISSED'}`,
  );
  // The last two lines, exactly in this form (scripts read them).
  console.log(`ratio throughput files / bare = ${ratioOne.toFixed(2)}`);
  console.log(`node RSS growth during transfer = ${(growth / MiB).toFixed(1)} MiB`);
}

main().then(
  async () => {
    await cleanupAll();
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(`files bench broke: ${(err as Error).stack ?? String(err)}`);
    await cleanupAll();
    process.exit(1);
  },
);
