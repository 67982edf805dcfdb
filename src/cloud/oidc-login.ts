// Sign-in at an OpenID Connect provider (openid-client): the authorization code flow with PKCE (S256), a state
// and a nonce per login session, and the provider's ID token checked by openid-client (issuer, audience,
// signature, nonce). The cloud is a confidential client (id and secret from the operator). Plain http is
// allowed only for a loopback issuer (tests, a provider on the same machine).
import * as client from 'openid-client';
import { CloudError } from './errors.js';

export interface OidcProviderConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** What the login buttons say: "Sign in with <name>". */
  name: string;
}

/** Who the provider says signed in. */
export interface ProviderIdentity {
  issuer: string;
  subject: string;
  /** Only an address the provider says it verified. */
  email: string | null;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class OidcLogin {
  private config: Promise<client.Configuration> | undefined;

  constructor(
    readonly provider: OidcProviderConfig,
    /** The cloud's callback: `<public origin>/api/auth/external/oidc/callback`, registered at the provider. */
    readonly redirectUri: () => string,
  ) {}

  private discovered(): Promise<client.Configuration> {
    this.config ??= (async () => {
      const issuer = new URL(this.provider.issuer);
      const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
      if (issuer.protocol !== 'https:' && !insecure)
        throw new CloudError(503, 'method_unavailable', 'The OpenID provider must be https (plain http only on loopback).');
      return client.discovery(
        issuer,
        this.provider.clientId,
        this.provider.clientSecret,
        undefined,
        insecure ? { execute: [client.allowInsecureRequests] } : undefined,
      );
    })().catch((err) => {
      this.config = undefined; // try the discovery again next time
      throw err instanceof CloudError
        ? err
        : new CloudError(503, 'method_unavailable', `The OpenID provider cannot be reached: ${(err as Error).message}`);
    });
    return this.config;
  }

  /** Fresh secrets of one login: state, nonce and the PKCE verifier (kept with the session, never sent out). */
  static secrets(): { state: string; nonce: string; verifier: string } {
    return { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() };
  }

  async authorizationUrl(s: { state: string; nonce: string; verifier: string }): Promise<URL> {
    const config = await this.discovered();
    return client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(),
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(s.verifier),
      code_challenge_method: 'S256',
      state: s.state,
      nonce: s.nonce,
    });
  }

  /** Redeems the code of the callback; throws oidc_failed for anything the provider or the checks refuse. */
  async callback(currentUrl: URL, s: { state: string; nonce: string; verifier: string }): Promise<ProviderIdentity> {
    const config = await this.discovered();
    try {
      const tokens = await client.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: s.verifier,
        expectedState: s.state,
        expectedNonce: s.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      let email = typeof claims.email === 'string' && claims.email_verified === true ? claims.email : null;
      if (email === null && tokens.access_token) {
        const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
        if (typeof info.email === 'string' && info.email_verified === true) email = info.email;
      }
      return { issuer: String(claims.iss), subject: claims.sub, email: email?.trim().toLowerCase() ?? null };
    } catch (err) {
      throw new CloudError(400, 'oidc_failed', `The OpenID provider's answer was refused: ${(err as Error).message}`);
    }
  }
}
