// Seals a batch of real envelopes for the message benches before anything is timed, in child processes
// (bench/lib/relay-sealer.ts), one envelope per message: the id (a fresh uuidv7) is bound into the AEAD, and
// nodes and the cloud treat a repeated id as a resend. Prints the sealing rate (the phone's cost, not the path's).
import { join } from 'node:path';
import { toBase64Url } from '../../src/shared/encoding.js';
import type { Phone } from '../../tests/helpers/test-node.js';
import type { Msg } from './load.js';
import { REPO, spawnNode } from './procs.js';

export async function sealBatch(from: Phone, to: Phone, count: number, workers = 2): Promise<{ msgs: Msg[]; perSec: number }> {
  if (count === 0) return { msgs: [], perSec: NaN };
  const share = (k: number) => Math.floor(count / workers) + (k < count % workers ? 1 : 0);
  const t0 = performance.now();
  const parts = await Promise.all(
    Array.from(
      { length: workers },
      (_, k) =>
        new Promise<{ envelopes: string[]; ms: number }>((resolve, reject) => {
          const c = spawnNode(`sealer${k}`, ['--import', 'tsx', join(REPO, 'bench/lib/relay-sealer.ts')], { ipc: true });
          c.proc.once('message', (m: { envelopes: string[]; ms: number }) => resolve(m));
          c.proc.once('exit', (code) => {
            if (code !== 0) reject(new Error(`sealer exited ${code}: ${c.stderr.join('').slice(-1500)}`));
          });
          c.proc.send({
            from: { device_id: from.identity.node_id, privateKey: toBase64Url(from.privateKey), publicKey: toBase64Url(from.publicKey) },
            to: { device_id: to.identity.node_id, publicKey: toBase64Url(to.publicKey) },
            count: share(k),
            text: 'Hei Bo, middag klokka sju? Ta med brød.',
          });
        }),
    ),
  );
  const wall = performance.now() - t0;
  const msgs: Msg[] = [];
  for (const p of parts)
    for (const json of p.envelopes) {
      const obj = JSON.parse(json) as { id: string };
      msgs.push({ id: obj.id, json: `{"envelope":${json}}`, obj });
    }
  const busy = parts.reduce((s, p) => s + p.ms, 0);
  console.log(
    `sealed ${count} envelopes in ${(wall / 1000).toFixed(1)} s with ${workers} processes: ${(busy / count).toFixed(2)} ms per seal (${Math.round(count / (busy / 1000))} seals/s per core), ${msgs[0]!.json.length} bytes per message`,
  );
  return { msgs, perSec: count / (busy / 1000) };
}

// ---- the bare chain -------------------------------------------------------------------------------------------
