// Child of bench/relay.ts: seals a batch of real envelopes (src/shared/e2ee seal, @noble as in a phone's
// browser) before the timed run, so sealing never sits inside a latency window. Every envelope is sealed anew:
// the id (a fresh uuidv7) is bound into the AEAD, and nodes and the cloud treat a repeated id as a resend.
//   -> {from:{device_id, privateKey, publicKey}, to:{device_id, publicKey}, count, text}   (keys base64url)
//   <- {envelopes: string[] (JSON), ms}
import { seal } from '../../src/shared/e2ee/index.js';
import { fromBase64Url, utf8 } from '../../src/shared/encoding.js';

interface Job {
  from: { device_id: string; privateKey: string; publicKey: string };
  to: { device_id: string; publicKey: string };
  count: number;
  text: string;
}

process.once('message', (job: Job) => {
  const from = {
    device_id: job.from.device_id,
    privateKey: fromBase64Url(job.from.privateKey),
    publicKey: fromBase64Url(job.from.publicKey),
  };
  const to = [{ device_id: job.to.device_id, publicKey: fromBase64Url(job.to.publicKey) }];
  const t0 = performance.now();
  const envelopes: string[] = [];
  for (let i = 0; i < job.count; i++) {
    const plain = utf8.encode(JSON.stringify({ t: 'text', body: `${job.text} #${i}` }));
    envelopes.push(JSON.stringify(seal(plain, { from, to })));
  }
  process.send!({ envelopes, ms: performance.now() - t0 }, () => process.exit(0));
});
