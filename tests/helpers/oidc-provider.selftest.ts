// Self-test of tests/helpers/oidc-provider.ts (not part of the suite: the name does not end in .test.ts).
// Run: npx tsx --test tests/helpers/oidc-provider.selftest.ts
// A relying party made of openid-client and a throwaway callback server goes through the provider's real pages
// in Chromium: approve (tokens with the account's claims), deny (access_denied), a wrong PKCE verifier and a
// tampered state (both refused).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { type Browser, chromium } from 'playwright-core';
import { completeProviderLogin, startOidcProvider, type TestOidcProvider } from './oidc-provider.js';

const CHROMIUM = process.env.SALITA_CHROMIUM ?? '/usr/bin/chromium';

describe('test OIDC provider', () => {
  let op: TestOidcProvider;
  let config: client.Configuration;
  let browser: Browser;
  let rp: Server;
  let redirectUri: string;
  const callbacks: URL[] = [];
  const waiters = new Set<() => void>();

  /** The next callback the RP gets (full URL). */
  function nextCallback(): Promise<URL> {
    const seen = callbacks.length;
    return new Promise((resolve) => {
      const check = () => {
        if (callbacks.length > seen) {
          waiters.delete(check);
          resolve(callbacks[seen]!);
        }
      };
      waiters.add(check);
      check();
    });
  }

  before(async () => {
    rp = createServer((req, res) => {
      const url = new URL(req.url ?? '/', redirectUri);
      if (url.pathname === '/cb') {
        callbacks.push(url);
        for (const w of [...waiters]) w();
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party callback');
    });
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
    redirectUri = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/cb`;

    op = await startOidcProvider({
      redirectUris: [redirectUri],
      accounts: {
        alice: { email: 'alice@example.test', name: 'Alice Example' },
        bob: { email: 'bob@example.test', email_verified: false },
      },
    });
    assert.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    config = await client.discovery(new URL(op.issuer), op.clientId, op.clientSecret, undefined, {
      execute: [client.allowInsecureRequests],
    });
    assert.equal(config.serverMetadata().issuer, op.issuer);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], headless: true });
  });

  after(async () => {
    await browser?.close();
    await op?.close();
    rp?.closeAllConnections();
    await new Promise((resolve) => rp?.close(resolve));
  });

  /** One authorization request through Chromium (fresh context: no provider session); the RP's callback URL. */
  async function flow(login: string, approve: boolean) {
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const callback = nextCallback();
      await page.goto(url.href, { waitUntil: 'commit' });
      await completeProviderLogin(page, { login, approve });
      const callbackUrl = await callback;
      assert.equal(page.url(), callbackUrl.href, 'the browser ends at the redirect_uri');
      return { callbackUrl, pkceCodeVerifier, state, nonce };
    } finally {
      await context.close();
    }
  }

  test('approve: the code is exchanged (PKCE S256) for tokens carrying the account', async () => {
    const { callbackUrl, pkceCodeVerifier, state, nonce } = await flow('alice', true);
    assert.ok(callbackUrl.searchParams.get('code'));
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.email, 'alice@example.test');
    assert.equal(claims.email_verified, true);
    assert.equal(claims.name, 'Alice Example');
    assert.equal(claims.iss, op.issuer);
    // The access token works at userinfo too.
    const info = await client.fetchUserInfo(config, tokens.access_token, 'alice');
    assert.equal(info.email, 'alice@example.test');
  });

  test('approve as another account: its own claims (email_verified false kept)', async () => {
    const { callbackUrl, pkceCodeVerifier, state, nonce } = await flow('bob', true);
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const claims = tokens.claims()!;
    assert.equal(claims.sub, 'bob');
    assert.equal(claims.email, 'bob@example.test');
    assert.equal(claims.email_verified, false);
    assert.equal(claims.name, undefined);
  });

  test('deny: the RP gets error=access_denied', async () => {
    const { callbackUrl, pkceCodeVerifier, state, nonce } = await flow('alice', false);
    assert.equal(callbackUrl.searchParams.get('error'), 'access_denied');
    assert.equal(callbackUrl.searchParams.get('code'), null);
    assert.equal(callbackUrl.searchParams.get('state'), state);
    await assert.rejects(
      client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier, expectedState: state, expectedNonce: nonce }),
      (err: any) => err instanceof client.AuthorizationResponseError && err.error === 'access_denied',
    );
  });

  test('a wrong code_verifier is refused at the token endpoint (invalid_grant)', async () => {
    const { callbackUrl, state, nonce } = await flow('alice', true);
    await assert.rejects(
      client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: state,
        expectedNonce: nonce,
      }),
      (err: any) => err instanceof client.ResponseBodyError && err.error === 'invalid_grant',
    );
  });

  test('a tampered state is refused', async () => {
    const { callbackUrl, pkceCodeVerifier, state, nonce } = await flow('alice', true);
    const tampered = new URL(callbackUrl);
    tampered.searchParams.set('state', `${state}x`);
    await assert.rejects(client.authorizationCodeGrant(config, tampered, { pkceCodeVerifier, expectedState: state, expectedNonce: nonce }));
  });

  test('PKCE is required: an authorization request without code_challenge is sent back with invalid_request', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      state: client.randomState(),
      nonce: client.randomNonce(),
    });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin + location.pathname, redirectUri);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
  });
});
