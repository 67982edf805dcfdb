// The mDNS instance name must fit one DNS label (63 bytes of UTF-8) even after a conflict suffix, and a cut
// must never split a character: zeroconf and Avahi drop a packet with a longer label as malformed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFLICT_SUFFIX_BYTES, cutUtf8, instanceNameFor, MAX_LABEL_BYTES } from '../../src/main/core/discovery/instance-name.js';

const ID = 'node-0645ea18-6a45-493b-8d96-f77cb73a0def';
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

test('a short name is kept whole, with the node id tail', () => {
  assert.deepEqual(instanceNameFor('Laptop', ID), { instance: 'Laptop [b73a0def]', cut: false });
});

test('40 Cyrillic characters (80 bytes) are cut so the label plus " (99)" stays within 63 bytes', () => {
  const name = 'Рабочий компьютер в большой комнате дома';
  const { instance, cut } = instanceNameFor(name, ID);
  assert.equal(cut, true);
  assert.ok(bytes(instance) <= MAX_LABEL_BYTES - CONFLICT_SUFFIX_BYTES, `${bytes(instance)} bytes`);
  assert.ok(bytes(`${instance} (99)`) <= MAX_LABEL_BYTES);
  assert.ok(instance.endsWith(' [b73a0def]'));
  assert.ok(name.startsWith(instance.slice(0, -' [b73a0def]'.length)));
});

test('a cut never splits a code point: 4-byte emoji and 3-byte CJK', () => {
  for (const ch of ['😀', '中', 'é', 'Ж']) {
    for (let max = 0; max <= 20; max++) {
      const out = cutUtf8(ch.repeat(30), max);
      assert.ok(bytes(out) <= max);
      assert.ok(bytes(out) > max - bytes(ch), 'as long as fits');
      assert.equal(Buffer.from(out, 'utf8').toString('utf8'), out);
      assert.ok(!out.includes('\uFFFD'));
      assert.equal(
        [...out].every((c) => c === ch),
        true,
      );
    }
  }
});

test('an all-digit id tail is not mistaken for a conflict counter', () => {
  assert.equal(instanceNameFor('Laptop', 'node-0645ea18-6a45-493b-8d96-f77c75407850').instance, 'Laptop [75407850]');
});

test('dots become dashes (some browsers split instance names at dots)', () => {
  assert.equal(instanceNameFor('my.pc', ID).instance, 'my-pc [b73a0def]');
});
