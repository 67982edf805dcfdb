// Messaging in real browsers: the desktop UI logs its node in to a real cloud (in this process, codes read from
// a MemoryOtpSender) through the Cloud panel, a wrong code first; a phone page pairs in a second browser
// context; the phone writes to the desktop UI's own messaging device, the desktop answers, and each sees its
// message "Seen", "on this desktop" (same node: the cloud is not used). A tampered envelope shows as "could not
// be decrypted", never as text. A phone at another home (a second node logged in to the same cloud) is listed
// under "Other homes" and written to "through the cloud"; with the cloud away the link is "reconnecting" and
// that message waits in the outbox, then goes; a cloud with another key is a loud warning.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { REMOTE_GROUP_LABEL } from '../../src/renderer/src/common/recipient-groups.js';
import { MessagingClient } from '../../src/shared/client/messaging-client.js';
import { uiDeviceId } from '../../src/shared/wire/relay.js';
import { eventually, pairPhone, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';
import { chromiumSkipReason, collectPageErrors, messageIn, PHONE, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
/** Linking to the cloud and a round trip through it: generous, never a speed assertion. */
const LONG = { timeout: 60_000 };

describe('messaging and cloud login in the browser (Chromium)', { skip, timeout: 300_000 }, () => {
  const browser = useChromium();
  let node: TestNode;
  /** A node of another home, logged in to the same cloud. */
  let far: TestNode;
  let cloud: RunningCloud;
  let cloudDir: string;
  const otp = new MemoryOtpSender();

  before(async () => {
    cloudDir = tempDir('salita-cloud-e2e-');
    cloud = await startCloud({ dataDir: cloudDir, port: 0, otpSender: otp, log: () => {} });
    // Short reconnect steps, so the "cloud away" part does not wait out the 30 s cap (never a speed assertion).
    node = await startTestNode({ cloud: { backoff: { baseMs: 200, capMs: 2_000 } } });
    far = await startTestNode({ cloud: { backoff: { baseMs: 200, capMs: 2_000 } } });
  });

  after(async () => {
    await cloud?.stop();
  });

  const collectErrors = (page: Page) => collectPageErrors(page, { console: true, http: true });

  const published = async (deviceId: string) => (await cloud.directory.all()).some((d) => d.device_id === deviceId);

  /** Logs `n` in to the cloud through its admin API (as its Cloud panel would). */
  async function logIn(n: TestNode): Promise<void> {
    const before = otp.sent.length;
    assert.equal((await n.admin('/api/admin/cloud/login', { body: { url: cloud.url, email: 'home@salita.test' } })).status, 200);
    await eventually(() => otp.sent.length > before, 'a login code for the other home', LONG.timeout);
    assert.equal((await n.admin('/api/admin/cloud/code', { body: { code: otp.sent.at(-1)!.code } })).status, 200);
    await eventually(
      async () => (await n.admin('/api/admin/cloud')).body.status === 'connected',
      'the other home connected to the cloud',
      LONG.timeout,
    );
  }

  test('log in to the cloud, pair a phone, write both ways "on this desktop", "Seen"; tampering; another home through the cloud, cloud away, cloud key changed', async () => {
    // ---- desktop: log in to the cloud through the Cloud panel ------------------------------------------------
    const desktopCtx = await browser.newContext({ viewport: { width: 900, height: 1200 } });
    const desktop = await desktopCtx.newPage();
    const desktopErrors = collectErrors(desktop);
    await desktop.goto(node.adminUrl);
    await desktop.locator('#conn-status[data-state="live"]').waitFor(WAIT);
    const uiDevice = uiDeviceId(node.identity.node_id);
    await desktop.locator(`[data-testid="messages-panel"][data-device-id="${uiDevice}"]`).waitFor(WAIT);
    await desktop.getByTestId('cloud-status').filter({ hasText: 'Not set up' }).waitFor(WAIT);

    await desktop.getByTestId('cloud-url').fill(cloud.url);

    await desktop.getByTestId('cloud-email-input').fill('home@salita.test');
    await desktop.getByTestId('cloud-login').click();
    await desktop.getByTestId('cloud-status').filter({ hasText: 'Waiting for the code' }).waitFor(LONG);
    // Where the code is, naming this desktop as the cloud's log line does (name and fingerprint of the header).
    await desktop
      .getByTestId('cloud-code-where')
      .filter({ hasText: 'prints it in its log' })
      .filter({ hasText: `node "${node.identity.name}", fingerprint ${node.identity.fingerprint}` })
      .waitFor(WAIT);
    assert.equal(otp.sent.length, 1, 'one code was sent');
    const code = otp.sent.at(-1)!.code;

    // A wrong code first: said plainly, and the code can be typed again.
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await desktop.getByTestId('cloud-code').fill(wrong);
    await desktop.getByTestId('cloud-code-submit').click();
    await desktop
      .getByTestId('cloud-form-error')
      .filter({ hasText: /wrong code/i })
      .waitFor(WAIT);
    assert.equal(await desktop.getByTestId('cloud-code-form').isVisible(), true, 'the code field stays for another try');
    // Said once, next to the field: not a second time as the link's "last problem".
    await eventually(
      async () => (await desktop.getByTestId('cloud-problem').getAttribute('data-code')) === 'otp_invalid',
      'the push with the failure',
    );
    assert.equal(
      await desktop.getByTestId('cloud-problem').isVisible(),
      false,
      (await desktop.locator('#cloud-panel').textContent()) ?? '',
    );

    await desktop.getByTestId('cloud-code').fill(code);
    await desktop.getByTestId('cloud-code-submit').click();
    await desktop
      .getByTestId('cloud-status')
      .filter({ hasText: /^Connected$/ })
      .waitFor(LONG);
    await desktop.getByTestId('cloud-form-error').waitFor({ state: 'hidden', ...WAIT });
    await desktop.getByTestId('cloud-logout').waitFor(WAIT);
    assert.match((await desktop.getByTestId('cloud-url-shown').textContent()) ?? '', new RegExp(`127\\.0\\.0\\.1:${cloud.port}`));
    assert.equal(await desktop.getByTestId('cloud-warning').isVisible(), false, 'no key warning on a first login');

    // ---- phone: pair in a second browser context -------------------------------------------------------------
    await desktop.getByTestId('connect-device').click();
    await desktop
      .getByTestId('pair-pin')
      .filter({ hasText: /\d{3} ?\d{3}/ })
      .waitFor(WAIT);
    const pin = (await desktop.getByTestId('pair-pin').textContent())!.replace(/\D/g, '');
    const shown = new URL((await desktop.getByTestId('pair-url').textContent())!);
    const phoneUrl = new URL(shown.pathname + shown.search + shown.hash, node.base).toString();

    const phoneCtx = await browser.newContext(PHONE);
    const phone = await phoneCtx.newPage();
    const phoneErrors = collectErrors(phone);
    await phone.goto(phoneUrl);
    await phone.getByTestId('phone-name').fill('Messaging Phone');
    await phone.getByTestId('phone-pin').fill(pin);
    await phone.getByTestId('phone-submit').click();
    await phone
      .getByTestId('phone-status')
      .filter({ hasText: `Paired with ${node.identity.name}` })
      .waitFor(WAIT);
    const phoneId = await phone.evaluate(() => JSON.parse(localStorage.getItem('salita.phone.identity.v1') ?? '{}').node_id as string);

    // ---- phone -> desktop ---------------------------------------------------------------------------------------
    // The cloud relays only between devices its key directory knows: wait until the node has published both.
    await eventually(
      async () => (await published(uiDevice)) && (await published(phoneId)),
      "the desktop UI device and the phone in the cloud's key directory",
      LONG.timeout,
    );
    await phone.locator(`[data-testid="message-to"] option[value="${uiDevice}"]`).waitFor({ state: 'attached', ...WAIT });
    await phone.getByTestId('message-to').selectOption(uiDevice);
    await phone.getByTestId('message-text').fill('Hello desktop, from the phone');
    await phone.getByTestId('message-send').click();
    await messageIn(phone, 'out', 'Hello desktop, from the phone').waitFor(WAIT);

    await messageIn(desktop, 'in', 'Hello desktop, from the phone').waitFor(LONG);
    assert.equal(await desktop.getByTestId('message-to').inputValue(), phoneId, 'the desktop shows the conversation with the phone');

    // ---- desktop -> phone ---------------------------------------------------------------------------------------
    await desktop.getByTestId('message-text').fill('Hello phone, the desktop here');
    await desktop.getByTestId('message-send').click();
    await messageIn(phone, 'in', 'Hello phone, the desktop here').waitFor(LONG);
    // Same node: delivered at once, and "Seen" once the other page has it; the cloud is not used for it.
    for (const [page, text] of [
      [phone, 'Hello desktop, from the phone'],
      [desktop, 'Hello phone, the desktop here'],
    ] as const) {
      await messageIn(page, 'out', text)
        .getByTestId('message-status')
        .filter({ hasText: /^Seen$/ })
        .waitFor(LONG);
      await messageIn(page, 'out', text)
        .getByTestId('message-route')
        .filter({ hasText: /^on this desktop$/ })
        .waitFor(LONG);
    }

    // Acked: the node forgot both inboxes' messages; the pages kept them (a reload still shows them).
    await desktop.reload();
    await messageIn(desktop, 'in', 'Hello desktop, from the phone').waitFor(WAIT);
    await messageIn(desktop, 'out', 'Hello phone, the desktop here')
      .getByTestId('message-status')
      .filter({ hasText: /^Seen$/ })
      .waitFor(WAIT);

    // ---- a tampered envelope (from a test device of this node) is shown as undecryptable, never as text --------
    const tester = await pairPhone(node);
    await eventually(() => published(tester.phone.identity.node_id), "the test device in the cloud's key directory", LONG.timeout);
    const testerMessaging = new MessagingClient(tester.client, {
      device_id: tester.phone.identity.node_id,
      privateKey: tester.phone.privateKey,
      publicKey: tester.phone.publicKey,
    });
    const envelope = await testerMessaging.sealText(uiDevice, 'secret words that must not show');
    const ct = Buffer.from(envelope.ciphertext, 'base64url');
    ct[Math.floor(ct.length / 2)]! ^= 0x01;
    await testerMessaging.sendEnvelope({ ...envelope, ciphertext: ct.toString('base64url') });
    await desktop
      .locator(`[data-testid="message-to"] option[value="${tester.phone.identity.node_id}"]`)
      .waitFor({ state: 'attached', ...LONG });
    await desktop.getByTestId('message-to').selectOption(tester.phone.identity.node_id);
    await messageIn(desktop, 'in', /could not be decrypted/i).waitFor(LONG);
    assert.equal(await desktop.getByText('secret words that must not show').count(), 0);

    // ---- a phone at another home: listed under "Other homes", written to through the cloud ---------------------
    await logIn(far);
    const farPhone = await pairPhone(far);
    const farPhoneId = farPhone.phone.identity.node_id;
    const farMessaging = new MessagingClient(farPhone.client, {
      device_id: farPhoneId,
      privateKey: farPhone.phone.privateKey,
      publicKey: farPhone.phone.publicKey,
    });
    await eventually(() => published(farPhoneId), "the other home's phone in the cloud's key directory", LONG.timeout);
    const farOption = desktop.locator(`[data-testid="message-to"] optgroup[data-group="remote"] option[value="${farPhoneId}"]`);
    await farOption.waitFor({ state: 'attached', ...LONG });
    assert.equal(
      await desktop.locator('[data-testid="message-to"] optgroup[data-group="remote"]').getAttribute('label'),
      REMOTE_GROUP_LABEL,
    );
    await desktop.getByTestId('message-to').selectOption(farPhoneId);
    await desktop.getByTestId('message-text').fill('Hello to the other home');
    await desktop.getByTestId('message-send').click();
    const farHello = messageIn(desktop, 'out', 'Hello to the other home');
    await farHello
      .getByTestId('message-status')
      .filter({ hasText: /^Delivered$/ })
      .waitFor(LONG);
    await farHello
      .getByTestId('message-route')
      .filter({ hasText: /^through the cloud$/ })
      .waitFor(WAIT);
    const farInbox = async () =>
      (await Promise.all((await farMessaging.inbox()).messages.map((m) => farMessaging.openItem(m)))).map((m) => (m.ok ? m.text : m.error));
    await eventually(async () => (await farInbox()).includes('Hello to the other home'), "the other home's phone has it", LONG.timeout);

    // ---- the cloud goes away: "reconnecting", a message to the other home waits in the outbox, then goes out ----
    await cloud.stop();
    await desktop
      .getByTestId('cloud-status')
      .filter({ hasText: /^Reconnecting \(next attempt at .+\)$/ })
      .waitFor(LONG);
    await desktop.getByTestId('message-text').fill('Sent while the cloud was away');
    await desktop.getByTestId('message-send').click();
    const waiting = messageIn(desktop, 'out', 'Sent while the cloud was away');
    await waiting
      .getByTestId('message-status')
      .filter({ hasText: /^Queued$/ })
      .waitFor(WAIT);
    await desktop.getByTestId('cloud-outbox').filter({ hasText: '1 message' }).waitFor(WAIT);
    cloud = await startCloud({ dataDir: cloudDir, port: cloud.port, otpSender: otp, log: () => {} });
    await desktop
      .getByTestId('cloud-status')
      .filter({ hasText: /^Connected$/ })
      .waitFor(LONG);
    await waiting
      .getByTestId('message-status')
      .filter({ hasText: /^Delivered$/ })
      .waitFor(LONG);
    await waiting
      .getByTestId('message-route')
      .filter({ hasText: /^through the cloud$/ })
      .waitFor(WAIT);
    await eventually(
      async () => (await farInbox()).includes('Sent while the cloud was away'),
      "the other home's phone has the waiting one",
      LONG.timeout,
    );
    await desktop.getByTestId('cloud-outbox').filter({ hasText: 'none' }).waitFor(WAIT);

    // ---- log out -----------------------------------------------------------------------------------------------
    await desktop.getByTestId('cloud-logout').click();
    await desktop.getByTestId('cloud-status').filter({ hasText: 'Logged out' }).waitFor(WAIT);
    await desktop.getByTestId('cloud-login').waitFor(WAIT);

    // ---- another cloud (another key) answers at the same address: a loud warning, no login ---------------------
    const port = cloud.port;
    await cloud.stop();
    cloud = await startCloud({ dataDir: tempDir('salita-cloud-e2e-other-'), port, otpSender: otp, log: () => {} });
    assert.equal(await desktop.getByTestId('cloud-url').inputValue(), cloud.url, 'the address is kept for the next login');
    await desktop.getByTestId('cloud-login').click();
    await desktop
      .getByTestId('cloud-warning')
      .filter({ hasText: /key changed/i })
      .waitFor(LONG);
    assert.notEqual(await desktop.getByTestId('cloud-status').textContent(), 'Connected');
    assert.equal(await desktop.getByTestId('cloud-code-form').isVisible(), false, 'no code is asked for');

    // The wrong code and the changed key are the refused requests; and the prekey claims for the other home's
    // test phone (a client without sessions: no prekeys, 404) and while the cloud was away (503), answered by v1.
    const farClaim = `/api/admin/messages/prekeys/${farPhoneId}/claim`;
    assert.deepEqual(
      desktopErrors,
      ['HTTP 422 /api/admin/cloud/code', `HTTP 404 ${farClaim}`, `HTTP 503 ${farClaim}`, 'HTTP 409 /api/admin/cloud/login'],
      'no other errors in the desktop page',
    );
    assert.deepEqual(phoneErrors, [], 'no errors in the phone page');
    await phoneCtx.close();
    await desktopCtx.close();
  });
});
