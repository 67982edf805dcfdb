// The desktop UI's Cloud panel against a real node and a real cloud (in this process, codes read from a
// MemoryOtpSender): it renders the pushed cloud link, so it says what the node says at every step, also when
// the change is made elsewhere (the admin API, another window); the hint names this desktop as it is named now;
// a refused code is said once, next to the field; "Start over" and "Log out" go back to the login form; a cloud
// with another key is a loud warning; so is a key log alarm, which "Trust the cloud's key log again" resets.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { cloudStatusText } from '../../src/renderer/src/desktop/panels/cloud-panel.js';
import { restoreFirstLeaf, rewriteFirstLeaf } from '../helpers/key-log-forgery.js';
import { eventually, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
/** Linking to the cloud: generous, never a speed assertion. */
const LONG = { timeout: 60_000 };

describe('desktop UI: the Cloud panel follows the node (Chromium)', { skip, timeout: 180_000 }, () => {
  const browser = useChromium();
  let node: TestNode;
  let cloud: RunningCloud;
  const otp = new MemoryOtpSender();

  before(async () => {
    cloud = await startCloud({ dataDir: tempDir('salita-cloud-panel-'), port: 0, otpSender: otp, log: () => {} });
    node = await startTestNode();
  });

  after(async () => {
    await cloud?.stop();
  });

  /** The panel's status line says what the node's cloud link is right now (the panel and the store agree). */
  async function agrees(page: Page, status: string): Promise<void> {
    await eventually(
      async () => {
        const view = (await node.admin('/api/admin/cloud')).body;
        if (view.status !== status) return false;
        const shown = await page.getByTestId('cloud-status').textContent();
        return shown === cloudStatusText(view) && (await page.getByTestId('cloud-panel').getAttribute('data-status')) === status;
      },
      `the Cloud panel and the node both say ${status}`,
      LONG.timeout,
    );
  }

  test('log in, a wrong code said once, the code given elsewhere, log out elsewhere, a changed cloud key: the panel follows each push', async () => {
    const ctx = await browser.newContext({ viewport: { width: 900, height: 1200 } });
    const page = await ctx.newPage();
    const errors = collectPageErrors(page, { console: true, http: true });
    await page.goto(node.adminUrl);
    await page.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    await agrees(page, 'not_configured');
    await page.getByTestId('cloud-login-form').waitFor(WAIT);
    assert.equal(await page.getByTestId('cloud-logout').count(), 0);

    // Not an address: said next to the field, nothing sent.
    await page.getByTestId('cloud-url').fill('cloud.example.org');
    await page.getByTestId('cloud-login').click();
    await page.getByTestId('cloud-form-error').filter({ hasText: "Type the cloud's address" }).waitFor(WAIT);
    assert.equal(await page.getByTestId('cloud-url').getAttribute('aria-invalid'), 'true');

    // No account address: said next to its field, nothing sent.
    await page.getByTestId('cloud-url').fill(cloud.url);
    await page.getByTestId('cloud-login').click();
    await page.getByTestId('cloud-form-error').filter({ hasText: 'email address of your account' }).waitFor(WAIT);
    assert.equal(await page.getByTestId('cloud-email-input').getAttribute('aria-invalid'), 'true');

    await page.getByTestId('cloud-email-input').fill('Ana@Example.org');
    await page.getByTestId('cloud-login').click();
    await page.getByTestId('cloud-status').filter({ hasText: 'Waiting for the code' }).waitFor(LONG);
    await page.getByTestId('cloud-code-email').filter({ hasText: 'ana@example.org' }).waitFor(WAIT);
    await agrees(page, 'awaiting_code');
    await page.getByTestId('cloud-form-error').waitFor({ state: 'detached', ...WAIT });
    const whose = page.getByTestId('cloud-code-whose');
    await whose.filter({ hasText: `node "${node.identity.name}", fingerprint ${node.identity.fingerprint}` }).waitFor(WAIT);
    // Renamed meanwhile (in another window): the hint names this desktop as it is named now.
    assert.equal((await node.admin('/api/node/identity', { method: 'PATCH', body: { name: 'Study Desk' } })).status, 200);
    await whose.filter({ hasText: `node "Study Desk", fingerprint ${node.identity.fingerprint}` }).waitFor(WAIT);

    await eventually(() => otp.sent.length === 1, 'one code was sent', LONG.timeout);
    const code = otp.sent.at(-1)!.code;
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await page.getByTestId('cloud-code').fill(wrong);
    await page.getByTestId('cloud-code-submit').click();
    await page
      .getByTestId('cloud-form-error')
      .filter({ hasText: /wrong code/i })
      .waitFor(WAIT);
    // Said once: the push carries it as the link's last problem, which stays hidden while the form says it.
    await eventually(async () => (await page.getByTestId('cloud-problem').getAttribute('data-code')) === 'otp_invalid', 'the push');
    assert.equal(await page.getByTestId('cloud-problem').isVisible(), false);
    assert.equal(await page.getByTestId('cloud-code-form').isVisible(), true, 'the code can be typed again');

    // The right code comes through the admin API, not this page: the push alone moves the panel on, and the
    // old "wrong code" is not shown against a link that is now connected.
    assert.equal((await node.admin('/api/admin/cloud/code', { body: { code } })).status, 200);
    await page
      .getByTestId('cloud-status')
      .filter({ hasText: /^Connected$/ })
      .waitFor(LONG);
    await agrees(page, 'connected');
    await page.getByTestId('cloud-form-error').waitFor({ state: 'detached', ...WAIT });
    await page.getByTestId('cloud-code-form').waitFor({ state: 'detached', ...WAIT });
    await page.getByTestId('cloud-logout').waitFor(WAIT);
    assert.match((await page.getByTestId('cloud-url-shown').textContent()) ?? '', new RegExp(`127\\.0\\.0\\.1:${cloud.port}`));
    assert.doesNotMatch((await page.getByTestId('cloud-key').textContent()) ?? '', /not known/);
    assert.equal(await page.getByTestId('cloud-outbox').textContent(), 'none');
    assert.equal(await page.getByTestId('cloud-email').textContent(), 'ana@example.org');

    // Logged out elsewhere: the push shows the login form again, the address kept.
    assert.equal((await node.admin('/api/admin/cloud/logout', { method: 'POST' })).status, 200);
    await agrees(page, 'logged_out');
    await page.getByTestId('cloud-login').waitFor(WAIT);
    assert.equal(await page.getByTestId('cloud-url').inputValue(), cloud.url);
    assert.equal(await page.getByTestId('cloud-email-input').inputValue(), 'Ana@Example.org', 'and the account, as typed');

    // From this page again: a code is asked for; "Start over" goes back to the login form.
    await page.getByTestId('cloud-login').click();
    await agrees(page, 'awaiting_code');
    await page.getByTestId('cloud-restart').click();
    await agrees(page, 'logged_out');
    await page.getByTestId('cloud-login-form').waitFor(WAIT);

    // Another cloud (another key) answers at the same address: a loud warning, no code asked for.
    const port = cloud.port;
    await cloud.stop();
    cloud = await startCloud({ dataDir: tempDir('salita-cloud-panel-other-'), port, otpSender: otp, log: () => {} });
    await page.getByTestId('cloud-login').click();
    await page
      .getByTestId('cloud-warning')
      .filter({ hasText: /key changed/i })
      .waitFor(LONG);
    assert.notEqual(await page.getByTestId('cloud-status').textContent(), 'Connected');
    assert.equal(await page.getByTestId('cloud-code-form').count(), 0, 'no code is asked for');
    assert.equal(await page.getByTestId('cloud-problem').isVisible(), false, 'the warning says it, not a second line');
    assert.equal((await node.admin('/api/admin/cloud')).body.last_error?.code, 'cloud_key_changed');

    assert.deepEqual(errors, ['HTTP 422 /api/admin/cloud/code', 'HTTP 409 /api/admin/cloud/login'], 'only the refused requests');
    await ctx.close();
  });

  test('a key log alarm is a loud banner; trusting the log again clears it (the checks start over)', async () => {
    const dataDir = tempDir('salita-cloud-panel-kt-');
    const other = await startCloud({ dataDir, port: 0, otpSender: otp, log: () => {} });
    const n = await startTestNode({ cloud: { backoff: { baseMs: 20, capMs: 250 }, directoryRefreshMs: 150 } });
    try {
      assert.equal((await n.admin('/api/admin/cloud/login', { body: { url: other.url, email: 'kt@example.org' } })).status, 200);
      const code = otp.sent.findLast((m) => m.deviceId === n.identity.public_key)!.code;
      assert.equal((await n.admin('/api/admin/cloud/code', { body: { code } })).status, 200);
      const ctx = await browser.newContext({ viewport: { width: 900, height: 1200 } });
      const page = await ctx.newPage();
      const errors = collectPageErrors(page, { console: true, http: true });
      await page.goto(n.adminUrl);
      const facts = page.getByTestId('cloud-key-log');
      await facts.filter({ hasText: /^verified/ }).waitFor(LONG);
      // The node has kept a head that covers its own device's entry (its first read may predate the publish).
      await eventually(async () => (await n.admin('/api/admin/cloud')).body.key_log.size >= 1, 'a head with the entry kept', LONG.timeout);

      // The operator rewrites the first entry of the log the node already verified.
      const original = rewriteFirstLeaf(dataDir, (leaf) => ({ ...leaf, node: 'someone-else' }));
      const banner = page.getByTestId('key-log-alarm');
      await banner.filter({ hasText: /rewrote the history/ }).waitFor(LONG);
      assert.equal(await banner.getAttribute('data-code'), 'key_log_inconsistent');
      assert.equal(await facts.getAttribute('data-status'), 'alarm');
      assert.equal(await page.getByTestId('cloud-problem').isVisible(), false, 'the banner says it, not a second line');

      // Put right (a backup restored, say), the person trusts the log again: asked once more, then cleared.
      restoreFirstLeaf(dataDir, original);
      await page.getByTestId('key-log-reset').click();
      await page.getByTestId('key-log-reset-confirm').click();
      await banner.waitFor({ state: 'detached', ...WAIT });
      await facts.filter({ hasText: /^verified/ }).waitFor(LONG);
      assert.deepEqual(errors, []);
      await ctx.close();
    } finally {
      await n.stop();
      await other.stop();
    }
  });
});
