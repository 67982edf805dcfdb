// Conformance: every cacophony vector whose protocol this module supports must reproduce every handshake
// and transport ciphertext and the handshake hash, byte for byte, on both sides.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_CHACHAPOLY, NODE_SHA256, NODE_X25519 } from '../../src/server/crypto/node-noise.js';
import { type CipherState, HandshakeState, isSupportedProtocol, type NoiseSuite } from '../../src/shared/crypto/noise/index.js';

// Vendored from ../shared/vectors/noise (public domain, see its README) so a clean clone can run it.
const VECTORS = fileURLToPath(new URL('../vectors/noise/cacophony.json', import.meta.url));
/** The file holds 944 vectors, all in patterns/functions we support; the count must not silently shrink. */
const MIN_VECTORS = 944;

interface Vector {
  protocol_name: string;
  init_prologue: string;
  resp_prologue: string;
  init_ephemeral: string;
  resp_ephemeral?: string;
  init_static?: string;
  resp_static?: string;
  init_remote_static?: string;
  resp_remote_static?: string;
  init_psks?: string[];
  resp_psks?: string[];
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const opt = (s: string | undefined) => (s === undefined ? undefined : hex(s));

function runVector(v: Vector, suite: NoiseSuite = {}): void {
  const common = (side: 'init' | 'resp') => ({
    protocol: v.protocol_name,
    prologue: hex(side === 'init' ? v.init_prologue : v.resp_prologue),
    ...suite,
  });
  const init = new HandshakeState({
    ...common('init'),
    initiator: true,
    e: hex(v.init_ephemeral),
    s: opt(v.init_static),
    rs: opt(v.init_remote_static),
    psks: (v.init_psks ?? []).map(hex),
  });
  const resp = new HandshakeState({
    ...common('resp'),
    initiator: false,
    e: opt(v.resp_ephemeral),
    s: opt(v.resp_static),
    rs: opt(v.resp_remote_static),
    psks: (v.resp_psks ?? []).map(hex),
  });
  const oneWay = init.protocol.pattern.oneWay;
  let transport: { init: { send: CipherState; receive: CipherState }; resp: { send: CipherState; receive: CipherState } } | undefined;
  v.messages.forEach((m, i) => {
    const initiatorWrites = oneWay || i % 2 === 0;
    const [writer, reader] = initiatorWrites ? [init, resp] : [resp, init];
    const payload = hex(m.payload);
    let ct: Uint8Array;
    let pt: Uint8Array;
    if (!transport) {
      ct = writer.writeMessage(payload);
      assert.equal(toHex(ct), m.ciphertext, `${v.protocol_name}: handshake message ${i}`);
      pt = reader.readMessage(ct);
      if (init.isFinished()) {
        assert.ok(resp.isFinished());
        assert.equal(toHex(init.handshakeHash()), v.handshake_hash, `${v.protocol_name}: initiator handshake hash`);
        assert.equal(toHex(resp.handshakeHash()), v.handshake_hash, `${v.protocol_name}: responder handshake hash`);
        transport = { init: init.split(), resp: resp.split() };
      }
    } else {
      const [w, r] = initiatorWrites ? [transport.init, transport.resp] : [transport.resp, transport.init];
      ct = w.send.encryptWithAd(new Uint8Array(0), payload);
      assert.equal(toHex(ct), m.ciphertext, `${v.protocol_name}: transport message ${i}`);
      pt = r.receive.decryptWithAd(new Uint8Array(0), ct);
    }
    assert.equal(toHex(pt), m.payload, `${v.protocol_name}: payload ${i}`);
  });
  assert.ok(transport, `${v.protocol_name}: handshake finished`);
}

const all = (JSON.parse(readFileSync(VECTORS, 'utf8')) as { vectors: Vector[] }).vectors;
const supported = all.filter((v) => isSupportedProtocol(v.protocol_name));

test(`cacophony vectors (@noble): every supported vector passes`, () => {
  let passed = 0;
  const failures: string[] = [];
  for (const v of supported) {
    try {
      runVector(v);
      passed++;
    } catch (err) {
      failures.push(`${v.protocol_name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const skipped = all.length - supported.length;
  console.log(
    `noise vectors: ${all.length} in file, ${supported.length} supported, ${passed} passed, ${failures.length} failed, ${skipped} skipped`,
  );
  assert.deepEqual(failures, []);
  assert.ok(passed >= MIN_VECTORS, `only ${passed} vectors ran; expected at least ${MIN_VECTORS}`);
});

test('the vectors also pass with the node:crypto functions the node uses', () => {
  let n = 0;
  for (const v of supported) {
    if (!v.protocol_name.includes('_25519_')) continue;
    const suite: NoiseSuite = { dh: NODE_X25519 };
    if (v.protocol_name.endsWith('_SHA256')) suite.hash = NODE_SHA256;
    if (v.protocol_name.includes('_ChaChaPoly_')) suite.cipher = NODE_CHACHAPOLY;
    runVector(v, suite);
    n++;
  }
  console.log(`noise vectors with node:crypto X25519 (+ SHA256, ChaChaPoly where named): ${n} passed`);
  assert.ok(n >= MIN_VECTORS / 2);
});
