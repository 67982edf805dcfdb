// A real OpenID Connect provider (the `oidc-provider` package, v9) on loopback, plain http, for integration tests:
// one confidential client (authorization code + PKCE S256), a few made-up accounts, and the package's own
// development login and consent pages (devInteractions), which completeProviderLogin drives in a Playwright page.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';

export interface TestOidcProvider {
  /** e.g. http://127.0.0.1:PORT (no trailing slash): exactly where the provider is reachable. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

export interface TestOidcAccount {
  email: string;
  /** Default true. */
  email_verified?: boolean;
  name?: string;
}

export interface StartOidcProviderOptions {
  /** The relying party's callback URL(s), registered for the client. */
  redirectUris: string[];
  clientId?: string;
  clientSecret?: string;
  /**
   * How the client authenticates at the token endpoint. The provider holds a client to the one method it was
   * registered with; the default is openid-client's own default (ClientSecretPost).
   */
  tokenEndpointAuthMethod?: 'client_secret_post' | 'client_secret_basic';
  /** accounts: login name -> claims; the login form accepts any of these names (any password). */
  accounts?: Record<string, TestOidcAccount>;
}

const DEFAULT_ACCOUNTS: Record<string, TestOidcAccount> = {
  alice: { email: 'alice@example.test', name: 'Alice Example' },
};

// The parts of oidc-provider used here (the package has no type declarations of its own, and the module is
// imported by a computed name so that tsc does not look for them).
interface ProviderInstance {
  use(middleware: (ctx: { path: string; set(field: string, value: string): void }, next: () => Promise<void>) => Promise<void>): void;
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

// oidc-provider announces its quick-start defaults (dev interactions, in-memory adapter, Node 20 being below
// its supported LTS) on console.warn / console.info, each line starting "oidc-provider WARNING:" or
// "oidc-provider NOTICE:" (in colour on a TTY). While any test provider is alive those lines, and only those,
// are dropped.
const PROVIDER_NOTICE = /^\S*oidc-provider (?:WARNING|NOTICE):/;
let silencedBy = 0;
let originalWarn: typeof console.warn | undefined;
let originalInfo: typeof console.info | undefined;
function silenceProviderNotices(): () => void {
  if (silencedBy++ === 0) {
    const w = console.warn;
    const i = console.info;
    originalWarn = w;
    originalInfo = i;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && PROVIDER_NOTICE.test(args[0])) return;
      w.apply(console, args);
    };
    console.info = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && PROVIDER_NOTICE.test(args[0])) return;
      i.apply(console, args);
    };
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--silencedBy === 0) {
      console.warn = originalWarn!;
      console.info = originalInfo!;
    }
  };
}

let providerModule: Promise<ProviderConstructor> | undefined;
function loadProvider(): Promise<ProviderConstructor> {
  const specifier: string = 'oidc-provider';
  providerModule ??= import(specifier).then((m: { Provider: ProviderConstructor }) => m.Provider);
  return providerModule;
}

/** Origins of the providers started here and not yet closed (completeProviderLogin tells its pages by them). */
const liveOrigins = new Set<string>();

export async function startOidcProvider(opts: StartOidcProviderOptions): Promise<TestOidcProvider> {
  if (opts.redirectUris.length === 0) throw new Error('startOidcProvider: at least one redirect URI is needed');
  const release = silenceProviderNotices();
  try {
    const Provider = await loadProvider();
    const clientId = opts.clientId ?? 'test-rp';
    const clientSecret = opts.clientSecret ?? randomBytes(24).toString('base64url');
    const accounts = opts.accounts ?? DEFAULT_ACCOUNTS;

    // The issuer has to carry the port, so the port comes first: listen, then build the provider for it.
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // Own signing key (RS256, what openid-client expects by default) instead of the package's fixed dev keys.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: opts.redirectUris,
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: opts.tokenEndpointAuthMethod ?? 'client_secret_post',
        },
      ],
      jwks: { keys: [signingKey] },
      // By default v9 insists on PKCE only for public clients; here every authorization request needs it (S256 is
      // the only method v9 knows), and the token endpoint checks the code_verifier (invalid_grant if wrong).
      pkce: { required: () => true },
      scopes: ['openid', 'email', 'profile'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      // Put the scopes' claims into the ID token of the code flow too (conforming, they are only at userinfo).
      conformIdTokenClaims: false,
      async findAccount(_ctx: unknown, sub: string) {
        const account = Object.hasOwn(accounts, sub) ? accounts[sub] : undefined;
        if (!account) return undefined;
        return {
          accountId: sub,
          async claims() {
            return {
              sub,
              email: account.email,
              email_verified: account.email_verified ?? true,
              ...(account.name === undefined ? {} : { name: account.name }),
            };
          },
        };
      },
      // The package's login ("any login, any password") and consent pages; over plain http its cookies are set
      // without `secure` (it only adds that when the request itself is https), so nothing to change there.
      features: { devInteractions: { enabled: true } },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
    });
    // The dev pages' stylesheet @imports a Google web font: offline, Chromium's lookup of fonts.googleapis.com can
    // hold the page's rendering (and so Playwright's clicks) for seconds. A CSP that allows only the inline styles
    // makes the browser skip that request altogether.
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path.startsWith('/interaction/')) ctx.set('Content-Security-Policy', "style-src 'unsafe-inline'; font-src 'none'");
    });
    server.on('request', provider.callback());

    liveOrigins.add(issuer);
    let closing: Promise<void> | undefined;
    return {
      issuer,
      clientId,
      clientSecret,
      close() {
        closing ??= new Promise<void>((resolve, reject) => {
          liveOrigins.delete(issuer);
          server.close((err) => (err ? reject(err) : resolve()));
          server.closeAllConnections();
        }).finally(release);
        return closing;
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

/** The uid when `url` is an interaction page (login or consent) of a provider started here. */
function interactionUid(url: string): string | undefined {
  const u = URL.parse(url);
  if (!u || !liveOrigins.has(u.origin)) return undefined;
  return /^\/interaction\/([^/]+)$/.exec(u.pathname)?.[1];
}

function onProvider(url: string): boolean {
  const u = URL.parse(url);
  return !!u && liveOrigins.has(u.origin);
}

/**
 * Drives the provider's own login + consent pages in a Playwright page that has just been sent to the provider's
 * authorization URL (or will be redirected there): logs in as `login`, then either approves or denies consent.
 * Resolves once the browser has left the provider (was redirected to the redirect_uri). The page's context must
 * not hold a provider session from an earlier flow (use a fresh browser context per flow), else the provider may
 * skip its pages altogether.
 */
export async function completeProviderLogin(page: Page, opts: { login: string; approve: boolean }): Promise<void> {
  await page.waitForURL((u) => interactionUid(u.href) !== undefined, { waitUntil: 'domcontentloaded' });
  let loggedIn = false;
  for (;;) {
    const here = page.url();
    if (interactionUid(here) === undefined) {
      if (!onProvider(here)) return;
      const text = ((await page.locator('body').textContent()) ?? '').trim().slice(0, 500);
      const hint = loggedIn ? ` (after the login as "${opts.login}": is that one of the accounts?)` : '';
      throw new Error(`completeProviderLogin: the provider answered ${here} with: ${text}${hint}`);
    }
    // Both of the dev interaction forms say which prompt they answer in a hidden `prompt` input.
    const prompt = await page.locator('form input[name="prompt"]').getAttribute('value');
    const nextDocument = page.waitForEvent('domcontentloaded');
    nextDocument.catch(() => {}); // awaited below; not an unhandled rejection if a click throws first
    if (prompt === 'login') {
      if (loggedIn) throw new Error(`completeProviderLogin: the provider asked for a login again after "${opts.login}" (not an account?)`);
      loggedIn = true;
      await page.locator('input[name="login"]').fill(opts.login);
      await page.locator('input[name="password"]').fill('any password');
      await page.locator('button[type="submit"]').click();
    } else if (prompt === 'consent') {
      if (opts.approve) {
        await page.locator('button[type="submit"]').click();
      } else {
        // The consent page has one button (Continue); "[ Cancel ]" goes to /interaction/:uid/abort, which ends the
        // flow with error=access_denied at the redirect_uri.
        await page.locator('a[href$="/abort"]').click();
      }
    } else {
      throw new Error(`completeProviderLogin: unexpected provider page ${here} (prompt ${prompt})`);
    }
    await nextDocument;
  }
}
