// Signed vs unsigned request throughput on loopback against one real node, in the same run.
//   unsigned: GET /api/node/identity   (public route, no auth)
//   signed:   GET /api/session         (same size of work, behind the signed-session check: the client signs,
//                                       the node looks up the session, checks the HMAC, stores the nonce)
// Rounds alternate between the two and the ratio is taken per round (the machine is shared); the median
// round is reported. Target: signed >= 0.75x unsigned.
// Run: node --import tsx bench/signed-requests.ts [--seconds 1] [--concurrency 8] [--rounds 5] [--client node|noble]
import './quiet-logs.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startNode } from '../src/main/core/node.js';
import { NODE_NOISE_SUITE, NODE_SHA256 } from '../src/server/crypto/node-noise.js';
import { DeviceClient } from '../src/shared/client/device-client.js';
import { pairWithNode } from '../src/shared/client/pairing-client.js';
import { makePhone } from '../tests/helpers/test-node.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    client: { type: 'string', default: 'node' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);

const dataDir = mkdtempSync(join(tmpdir(), 'salita-bench-'));
const node = await startNode({ dataDir, port: 0, host: '127.0.0.1', mdns: false });
try {
  const base = `http://127.0.0.1:${node.port}`;
  const start = (await (
    await fetch(`${base}/auth/pair/start`, {
      method: 'POST',
      headers: { authorization: `Admin ${node.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    })
  ).json()) as { code: string; pin: string; fingerprint: string };
  const paired = await pairWithNode({
    baseUrl: base,
    code: start.code,
    pin: start.pin,
    expectedFingerprint: start.fingerprint,
    identity: makePhone('Bench').pairing,
    suite: NODE_NOISE_SUITE,
  });
  // The client signs with node:crypto, as a desktop peer does: a phone's signing costs the phone's CPU, not the
  // node's, so it should not be charged to the node here (run with --client noble to include it anyway).
  const client = new DeviceClient(
    base,
    { sessionId: paired.sessionId, deviceSecret: paired.deviceSecret },
    values.client === 'noble' ? {} : { sha256: NODE_SHA256 },
  );

  const unsigned = async () => {
    const r = await fetch(`${base}/api/node/identity`);
    if (r.status !== 200) throw new Error(`unsigned: HTTP ${r.status}`);
    await r.json();
  };
  const signed = async () => {
    const r = await client.request('GET', '/api/session');
    if (r.status !== 200) throw new Error(`signed: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  };

  async function throughput(call: () => Promise<void>): Promise<number> {
    let n = 0;
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          await call();
          n++;
        }
      }),
    );
    return n / ((performance.now() - t0) / 1000);
  }

  await throughput(unsigned);
  await throughput(signed); // warm-up
  const u: number[] = [],
    s: number[] = [],
    ratio: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await throughput(unsigned);
    const b = await throughput(signed);
    u.push(a);
    s.push(b);
    ratio.push(b / a);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  console.table([
    {
      'unsigned req/s': Math.round(median(u)),
      'signed req/s': Math.round(median(s)),
      'signed/unsigned': +median(ratio).toFixed(2),
      concurrency,
    },
  ]);
  console.log(`target signed >= 0.75x unsigned: ${median(ratio) >= 0.75 ? 'MET' : 'MISSED'}`);
} finally {
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
