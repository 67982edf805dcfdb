// External login end to end in Chromium (docs/cloud.md "External login"): real nodes, a real cloud on
// http://localhost (a secure context, so WebAuthn works), a virtual authenticator (the CDP WebAuthn domain), and a
// real OpenID provider (oidc-provider) started here.
// - Passkeys: a node signed in by email code adds a passkey on the cloud's page; another node signs in with it
//   (push); an assertion replayed into another session, one whose origin or RP ID was changed, are refused and
//   leave that session pending, which a real one then completes.
// - OIDC: approve (the node hears it by 2 s polling, no socket), deny, a tampered state (refused, nothing
//   changes), a tampered PKCE challenge (the code does not redeem: failed).
// - The Cloud panel: "Sign in with <provider>" opens the cloud's page in a new window; the panel moves on to
//   Connected by itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { MemoryOtpSender } from '../../src/cloud/otp-sender.js';
import { type RunningCloud, startCloud } from '../../src/cloud/server.js';
import { freePort } from '../helpers/free-port.js';
import { completeProviderLogin, startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { eventually, startTestNode, type TestNode, tempDir } from '../helpers/test-node.js';
import { chromiumSkipReason, useChromium, WAIT } from './browser.js';

const skip = chromiumSkipReason();
const LONG = { timeout: 60_000 };
const FAST = { backoff: { baseMs: 20, capMs: 250 } };

const view = async (node: TestNode) => (await node.admin('/api/admin/cloud')).body;

describe('external login: passkeys and an OpenID provider (Chromium)', { skip, timeout: 240_000 }, () => {
  const browser = useChromium();
  const otp = new MemoryOtpSender();
  let cloud: RunningCloud;
  let idp: TestOidcProvider;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    idp = await startOidcProvider({
      redirectUris: [`${base}/api/auth/external/oidc/callback`],
      accounts: { alice: { email: 'alice@example.test', name: 'Alice' }, bob: { email: 'bob@example.test' } },
    });
    cloud = await startCloud({
      dataDir: tempDir('salita-external-'),
      port,
      otpSender: otp,
      log: () => {},
      oidc: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, name: 'Test IdP' },
    });
  });
  after(async () => {
    await cloud?.stop();
    await idp?.close();
  });

  /** A desktop signed in by email code (the admin API), as every passkey starts. */
  async function codeSignedIn(email: string): Promise<TestNode> {
    const n = await startTestNode({ cloud: FAST });
    assert.equal((await n.admin('/api/admin/cloud/login', { body: { url: base, email } })).status, 200);
    const code = otp.sent.findLast((m) => m.deviceId === n.identity.public_key)!.code;
    assert.equal((await n.admin('/api/admin/cloud/code', { body: { code } })).status, 200);
    await eventually(async () => (await view(n)).status === 'connected', 'connected');
    return n;
  }

  /** A browser context with a virtual platform authenticator (resident keys, user verification) on `page`. */
  async function withAuthenticator(): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return { ctx, page };
  }

  const browserIdOf = (uri: string) => uri.split('/').at(-1)!;

  test('passkeys: add one after a code login, sign another desktop in with it; replays and a changed origin or RP ID are refused', async () => {
    const ana = await codeSignedIn('ana@example.org');
    const reg = await ana.admin('/api/admin/cloud/passkeys', { method: 'POST' });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    assert.equal(reg.body.external.method, 'passkey_register');
    assert.match(reg.body.external.verification_uri, /^http:\/\/localhost:\d+\/login\/external\//);
    const { ctx, page } = await withAuthenticator();
    await page.goto(reg.body.external.verification_uri);
    await page.locator('#go').click();
    await page.locator('#result[data-ok="true"]').waitFor(WAIT);
    await eventually(async () => (await view(ana)).external?.status === 'approved', "ana's node hears the passkey was added");

    // Another desktop signs in with it: the push brings its token, it joins ana's household.
    const desk = await startTestNode({ cloud: FAST });
    const start = await desk.admin('/api/admin/cloud/login/external', { body: { url: base, method: 'passkey' } });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    assert.equal(start.body.status, 'awaiting_browser');
    let assertion: string | undefined;
    page.on('request', (r) => {
      if (r.url().endsWith('/passkey') && r.method() === 'POST') assertion = r.postData() ?? undefined;
    });
    await page.goto(start.body.external.verification_uri);
    await page.locator('#go').click();
    await page.locator('#result[data-ok="true"]').waitFor(WAIT);
    await eventually(
      async () => (await view(desk)).status === 'connected',
      'the desktop signed in with the passkey is connected',
      LONG.timeout,
    );
    const acct = await desk.admin('/api/admin/cloud/account');
    assert.equal(acct.body.account.email, 'ana@example.org');
    assert.ok(
      acct.body.nodes.some((n: { node: string }) => n.node === ana.identity.public_key),
      "in ana's household",
    );
    assert.ok(assertion, 'the assertion was seen on its way');

    // The same assertion, replayed into another desktop's session: refused, that session stays pending.
    const other = await startTestNode({ cloud: FAST });
    const o = await other.admin('/api/admin/cloud/login/external', { body: { url: base, method: 'passkey' } });
    const oid = browserIdOf(o.body.external.verification_uri);
    assert.equal((await fetch(`${base}/api/auth/external/browser/${oid}/options`, { method: 'POST' })).status, 200);
    const replay = await fetch(`${base}/api/auth/external/browser/${oid}/passkey`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: assertion,
    });
    assert.equal(replay.status, 400);
    assert.equal(((await replay.json()) as { error: string }).error, 'passkey_refused');

    // A fresh assertion whose origin, then whose RP ID hash, was changed on its way: refused too.
    for (const [what, change] of [
      [
        'origin',
        (r: any) => {
          const cd = JSON.parse(Buffer.from(r.response.clientDataJSON, 'base64url').toString('utf8'));
          cd.origin = 'http://evil.localhost:1';
          r.response.clientDataJSON = Buffer.from(JSON.stringify(cd)).toString('base64url');
        },
      ],
      [
        'rp id',
        (r: any) => {
          const ad = Buffer.from(r.response.authenticatorData, 'base64url');
          ad[0] = ad[0]! ^ 0xff;
          r.response.authenticatorData = ad.toString('base64url');
        },
      ],
    ] as const) {
      await page.route('**/passkey', async (route) => {
        const body = JSON.parse(route.request().postData()!);
        change(body.response);
        await route.continue({ postData: JSON.stringify(body) });
      });
      await page.goto(o.body.external.verification_uri);
      await page.locator('#go').click();
      await page
        .locator('#result[data-ok="false"]')
        .filter({ hasText: /passkey was refused/ })
        .waitFor(WAIT);
      await page.unroute('**/passkey');
      assert.equal((await view(other)).status, 'awaiting_browser', `a changed ${what}: the session is still pending`);
    }
    // Untouched, the same session then goes through.
    await page.goto(o.body.external.verification_uri);
    await page.locator('#go').click();
    await page.locator('#result[data-ok="true"]').waitFor(WAIT);
    await eventually(async () => (await view(other)).status === 'connected', 'then the real one signs it in', LONG.timeout);
    await ctx.close();
  });

  test('OIDC: approve (heard by polling), deny, a tampered state and a tampered PKCE challenge', async () => {
    // Approve, the node polling every 100 ms without a socket.
    const polling = await startTestNode({ cloud: { ...FAST, externalNoSocket: true, externalPollMs: 100 } });
    const s = await polling.admin('/api/admin/cloud/login/external', { body: { url: base, method: 'oidc' } });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    let ctx = await browser.newContext();
    let page = await ctx.newPage();
    await page.goto(s.body.external.verification_uri);
    await completeProviderLogin(page, { login: 'alice', approve: true });
    await page.locator('#result[data-ok="true"]').waitFor(WAIT);
    await eventually(async () => (await view(polling)).status === 'connected', 'connected, by polling', LONG.timeout);
    assert.equal((await polling.admin('/api/admin/cloud/account')).body.account.email, 'alice@example.test');
    assert.equal((await view(polling)).email, 'alice@example.test', 'the node knows its account, as after a code login');
    await ctx.close();

    // Deny at the provider: the session fails, the node says why.
    const denied = await startTestNode({ cloud: FAST });
    const d = await denied.admin('/api/admin/cloud/login/external', { body: { url: base, method: 'oidc' } });
    ctx = await browser.newContext();
    page = await ctx.newPage();
    await page.goto(d.body.external.verification_uri);
    await completeProviderLogin(page, { login: 'bob', approve: false });
    await page.locator('#result[data-ok="false"]').waitFor(WAIT);
    const dv = await eventually(async () => {
      const v = await view(denied);
      return v.external?.status === 'failed' ? v : null;
    }, 'the denied sign-in failed');
    assert.equal(dv.external.error, 'oidc_denied');
    assert.equal(dv.last_error.code, 'oidc_denied');
    assert.notEqual(dv.status, 'connected');
    await ctx.close();

    // A callback with a tampered state: refused, changes nothing; the real flow of that session then goes through.
    const tampered = await startTestNode({ cloud: FAST });
    const t = await tampered.admin('/api/admin/cloud/login/external', { body: { url: base, method: 'oidc' } });
    ctx = await browser.newContext();
    page = await ctx.newPage();
    await page.goto(t.body.external.verification_uri);
    const forged = await fetch(`${base}/api/auth/external/oidc/callback?code=stolen-or-made-up&state=${'x'.repeat(43)}`, {
      headers: { accept: 'text/html' },
    });
    assert.equal(forged.status, 400);
    assert.match(await forged.text(), /belongs to no sign-in/);
    assert.equal((await view(tampered)).status, 'awaiting_browser', 'still pending');
    await completeProviderLogin(page, { login: 'alice', approve: true });
    await page.locator('#result[data-ok="true"]').waitFor(WAIT);
    await eventually(async () => (await view(tampered)).status === 'connected', 'the real answer still signs it in', LONG.timeout);
    await ctx.close();

    // A tampered PKCE challenge: the provider binds the code to it, so the cloud's verifier does not redeem it.
    const pkce = await startTestNode({ cloud: FAST });
    const p = await pkce.admin('/api/admin/cloud/login/external', { body: { url: base, method: 'oidc' } });
    ctx = await browser.newContext();
    page = await ctx.newPage();
    // The cloud's redirect to the provider is changed on its way (a browser does not route redirects: the cloud's
    // answer is fetched here, its Location rewritten).
    await page.route('**/login/external/**', async (route) => {
      const answer = await route.fetch({ maxRedirects: 0 });
      const to = new URL(answer.headers().location!);
      to.searchParams.set('code_challenge', 'A'.repeat(43));
      await route.fulfill({ response: answer, headers: { ...answer.headers(), location: to.href } });
    });
    await page.goto(p.body.external.verification_uri);
    await completeProviderLogin(page, { login: 'alice', approve: true });
    await page.locator('#result[data-ok="false"]').waitFor(WAIT);
    const pv = await eventually(async () => {
      const v = await view(pkce);
      return v.external?.status === 'failed' ? v : null;
    }, 'the sign-in with a tampered challenge failed');
    assert.equal(pv.external.error, 'oidc_failed');
    await ctx.close();
  });

  test('the Cloud panel: "Sign in with Test IdP" opens the cloud page in a new window and the panel follows by itself', async () => {
    const n = await startTestNode({ cloud: FAST });
    const ctx = await browser.newContext({ viewport: { width: 900, height: 1200 } });
    const panel = await ctx.newPage();
    await panel.goto(n.adminUrl);
    await panel.getByTestId('cloud-url').fill(base);
    await panel.getByTestId('cloud-passkey-login').waitFor(WAIT);
    const popup = ctx.waitForEvent('page');
    await panel.getByTestId('cloud-oidc-login').filter({ hasText: 'Sign in with Test IdP' }).click();
    const page = await popup;
    await panel.getByTestId('cloud-status').filter({ hasText: 'Waiting for you in the browser' }).waitFor(WAIT);
    await panel.getByTestId('cloud-external').waitFor(WAIT);
    await completeProviderLogin(page, { login: 'alice', approve: true });
    await page.locator('#result[data-ok="true"]').waitFor(WAIT);
    await panel
      .getByTestId('cloud-status')
      .filter({ hasText: /^Connected$/ })
      .waitFor(LONG);
    await panel.getByTestId('cloud-add-passkey').waitFor(WAIT);
    await ctx.close();
  });
});
