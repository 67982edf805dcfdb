// A contact's safety number: both households compute the same 60 digits from what the cloud lists, whatever the
// order; a desktop the cloud adds to one household in one side's view changes that side's number, and the QR
// comparison then says no.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { contactTrustId, householdSafetyNumber, householdTrustKey } from '../../src/renderer/src/common/trust/household-safety-number.js';
import { toBase64Url } from '../../src/shared/encoding.js';
import { compareDigits, compareScannable } from '../../src/shared/ratchet/safety-number.js';

const nodeKey = () => toBase64Url(x25519.getPublicKey(x25519.utils.randomSecretKey()));

describe('household safety numbers', () => {
  const ana = { accountId: 'acct-ana', nodeKeys: [nodeKey(), nodeKey()] };
  const bo = { accountId: 'acct-bo', nodeKeys: [nodeKey()] };

  test('both sides show the same digits, and each scans the other', () => {
    const atAna = householdSafetyNumber(ana, bo)!;
    const atBo = householdSafetyNumber(bo, { ...ana, nodeKeys: [...ana.nodeKeys].reverse() })!;
    assert.equal(atAna.digits.length, 60);
    assert.equal(atAna.digits, atBo.digits, 'the same number on both sides, whatever order the keys came in');
    assert.equal(compareScannable(atAna, atBo.scannable), true);
    assert.equal(compareScannable(atBo, atAna.scannable), true);
    assert.equal(compareDigits(atBo, atAna.display), true);
  });

  test("a desktop the cloud adds to the other household in one side's view: the numbers differ", () => {
    const atAna = householdSafetyNumber(ana, { ...bo, nodeKeys: [...bo.nodeKeys, nodeKey()] })!;
    const atBo = householdSafetyNumber(bo, ana)!;
    assert.notEqual(atAna.digits, atBo.digits);
    assert.equal(compareScannable(atAna, atBo.scannable), false);
    assert.equal(compareScannable(atBo, atAna.scannable), false);
  });

  test('another account id with the same desktops is another number (a household cannot pass for another)', () => {
    assert.notEqual(householdSafetyNumber(ana, bo)!.digits, householdSafetyNumber(ana, { ...bo, accountId: 'acct-cy' })!.digits);
  });

  test('no number while a side has no desktop, or a key is malformed', () => {
    assert.equal(householdSafetyNumber(ana, { ...bo, nodeKeys: [] }), undefined);
    assert.equal(householdSafetyNumber(ana, { ...bo, nodeKeys: ['not-a-key'] }), undefined);
  });

  test("the trust book's key is order-free and per household", () => {
    assert.equal(householdTrustKey(['b', 'a']), householdTrustKey(['a', 'b']));
    assert.equal(contactTrustId('acct-bo'), 'contact:acct-bo');
  });
});
