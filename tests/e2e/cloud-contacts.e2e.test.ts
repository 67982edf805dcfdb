// The household and contacts in the desktop UI's Cloud panel (Chromium): a desktop lists itself in its household;
// one household invites another (link and QR), the other pastes the link, checks whose it is (the fingerprint
// the inviting desktop's header shows) and accepts; the contact is listed; both sides show the same safety
// number, one types the other's and marks it verified; a desktop the cloud adds to the other household makes it
// "changed", and the old number no longer matches; the contact is removed again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { eventually, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
const LONG = { timeout: 60_000 };

describe('the household and contacts in the Cloud panel (Chromium)', { skip, timeout: 180_000 }, () => {
  const browser = useChromium();
  const otp = new MemoryOtpSender();
  let cloud: RunningCloud;
  const nodes: TestNode[] = [];

  before(async () => {
    cloud = await startCloud({ dataDir: tempDir('salita-cloud-contacts-'), port: 0, otpSender: otp, log: () => {} });
    for (const [name, email] of [
      ['Ana desktop', 'ana@example.org'],
      ['Bo desktop', 'bo@example.org'],
    ] as const) {
      const n = await startTestNode({ cloud: { backoff: { baseMs: 20, capMs: 250 } } });
      await n.admin('/api/node/identity', { method: 'PATCH', body: { name } });
      assert.equal((await n.admin('/api/admin/cloud/login', { body: { url: cloud.url, email } })).status, 200);
      const code = otp.sent.findLast((m) => m.email === email)!.code;
      assert.equal((await n.admin('/api/admin/cloud/code', { body: { code } })).status, 200);
      await eventually(async () => (await n.admin('/api/admin/cloud')).body.status === 'connected', `${name} connected`);
      nodes.push(n);
    }
  });

  after(async () => {
    await cloud?.stop();
  });

  async function open(n: TestNode): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 1600 } });
    const page = await ctx.newPage();
    await page.goto(n.adminUrl);
    await page.locator('[data-testid="cloud-panel"][data-status="connected"]').waitFor(LONG);
    return page;
  }

  test('invite, check, accept, list, remove', async () => {
    const [ana, bo] = [await open(nodes[0]!), await open(nodes[1]!)];
    const errors = collectPageErrors(bo, { console: true, http: true });
    await ana.locator('[data-testid="household-node"][data-self="true"]').filter({ hasText: 'Ana desktop (this desktop)' }).waitFor(WAIT);
    await ana.getByTestId('household').filter({ hasText: 'ana@example.org' }).waitFor(WAIT);

    await ana.getByTestId('contact-invite').click();
    const link = (await ana.getByTestId('contact-invite-link').textContent())!;
    assert.match(link, /\/invite#/);
    assert.equal(await ana.locator('[data-testid="contact-invite-shown"] img.qr').count(), 1, 'a QR to scan');
    const anaFp = (await ana.getByTestId('node-fingerprint').textContent())!;

    await bo.getByTestId('contact-link').fill(link);
    await bo.getByTestId('contact-look').click();
    const looked = bo.getByTestId('contact-looked');
    await looked.filter({ hasText: 'ana@example.org' }).waitFor(WAIT);
    assert.ok((await looked.textContent())!.includes(anaFp), "the check names Ana's desktop as its header does");
    await bo.getByTestId('contact-accept').click();
    await bo.getByTestId('contact').filter({ hasText: 'ana@example.org' }).waitFor(WAIT);

    // The safety number: the same on both sides; Ana types Bo's and marks it verified.
    await ana.reload();
    await ana.getByTestId('contact').filter({ hasText: 'bo@example.org' }).waitFor(WAIT);
    const digitsAt = async (page: Page) => {
      await page.getByTestId('contact-safety-open').click();
      await page.getByTestId('safety-qr').waitFor(WAIT);
      return (await page.getByTestId('contact-safety-digits').textContent())!;
    };
    const boDigits = await digitsAt(bo);
    const anaDigits = await digitsAt(ana);
    assert.match(anaDigits, /^(\d{5} ){11}\d{5}$/);
    assert.equal(anaDigits, boDigits, 'both households show the same number');
    await ana.getByTestId('contact-safety-compare').fill(boDigits);
    assert.equal(await ana.getByTestId('contact-safety-match').getAttribute('data-match'), 'yes');
    await ana.getByTestId('contact-safety-verify').click();
    await ana.getByTestId('contact').filter({ hasText: '✓ verified' }).waitFor(WAIT);

    // The cloud lists one more desktop for Bo's household (here: really signed in; a lying cloud would do the same).
    const extra = await startTestNode({ cloud: { backoff: { baseMs: 20, capMs: 250 } } });
    assert.equal((await extra.admin('/api/admin/cloud/login', { body: { url: cloud.url, email: 'bo@example.org' } })).status, 200);
    const code = otp.sent.findLast((m) => m.deviceId === extra.identity.public_key)!.code;
    assert.equal((await extra.admin('/api/admin/cloud/code', { body: { code } })).status, 200);
    await ana.reload();
    await ana.getByTestId('contact-safety-changed').filter({ hasText: 'bo@example.org' }).waitFor(WAIT);
    await ana.getByTestId('contact-safety-open').click();
    await ana.getByTestId('contact-safety-compare').fill(boDigits);
    assert.equal(await ana.getByTestId('contact-safety-match').getAttribute('data-match'), 'no', 'the old number no longer matches');
    await ana.getByTestId('contact-safety-accept').click();
    await ana.getByTestId('contact-safety-changed').waitFor({ state: 'detached', ...WAIT });
    await extra.stop();

    // The same link again: used up, said in words.
    await bo.getByTestId('contact-link').fill(link);
    await bo.getByTestId('contact-look').click();
    await bo
      .getByTestId('contacts-error')
      .filter({ hasText: /already used/ })
      .waitFor(WAIT);

    await bo.getByTestId('contact-remove').click();
    await bo.getByTestId('contacts').filter({ hasText: 'No contacts yet' }).waitFor(WAIT);
    assert.deepEqual(errors, ['HTTP 422 /api/admin/cloud/invites/accept'], 'only the refused request');
  });
});
