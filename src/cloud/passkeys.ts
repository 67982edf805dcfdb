// Passkeys (WebAuthn) on the cloud's own login page, with @simplewebauthn/server: an account registers one after
// a code login (from a logged-in node), and signs in with it later. The relying party is the cloud's public
// origin (https in production; http://localhost passes as a secure context in tests): a response made for
// another origin or RP ID, for another challenge, or with a signature counter that went back, is refused.
// Discoverable credentials: the sign-in page asks for no name, the authenticator offers the account's passkey.
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { CloudSql } from './db/sql.js';
import { CloudError } from './errors.js';

export interface RelyingParty {
  /** The origin the login page is served from, e.g. https://cloud.example.org (no path). */
  origin: string;
  /** Its host name: the RP ID. */
  rpId: string;
  name: string;
}

/** The relying party of a public origin: its host name is the RP ID. */
export function relyingPartyOf(origin: string, name = 'Salita cloud'): RelyingParty {
  const u = new URL(origin);
  return { origin: u.origin, rpId: u.hostname, name };
}

const refused = (why: string) => new CloudError(400, 'passkey_refused', `The passkey was refused: ${why}.`);

export class Passkeys {
  constructor(
    private readonly sql: CloudSql,
    /** A getter: the public origin may be known only once the cloud listens (port 0 in tests). */
    private readonly rpOf: () => RelyingParty,
    private readonly now: () => number = Date.now,
  ) {}

  private get rp(): RelyingParty {
    return this.rpOf();
  }

  async registrationOptions(accountId: string, userName: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.sql.all<{ id: string; transports: string | null }>(
      'SELECT id, transports FROM passkey_credentials WHERE account_id = ?',
      [accountId],
    );
    return generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.rpId,
      userName,
      userID: new TextEncoder().encode(accountId),
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.id, ...(c.transports ? { transports: JSON.parse(c.transports) } : {}) })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    });
  }

  /** Checks a registration against the session's challenge and stores the passkey on the account. */
  async register(accountId: string, challenge: string, response: RegistrationResponseJSON): Promise<void> {
    let v: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      v = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.rpId,
        requireUserVerification: false,
      });
    } catch (err) {
      throw refused((err as Error).message);
    }
    if (!v.verified) throw refused('the registration did not verify');
    const c = v.registrationInfo.credential;
    // ON CONFLICT: two instances registering the same credential at once; the one that inserts nothing refuses.
    const r = await this.sql.run(
      'INSERT INTO passkey_credentials (id, account_id, public_key, counter, transports, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [
        c.id,
        accountId,
        Buffer.from(c.publicKey).toString('base64url'),
        c.counter,
        c.transports ? JSON.stringify(c.transports) : null,
        new Date(this.now()).toISOString(),
      ],
    );
    if (r.changes !== 1) throw refused('this passkey is already registered');
  }

  async authenticationOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return generateAuthenticationOptions({ rpID: this.rp.rpId, userVerification: 'preferred' });
  }

  /** Checks a sign-in against the session's challenge; returns the passkey's account (its counter moves on). */
  async authenticate(challenge: string, response: AuthenticationResponseJSON): Promise<string> {
    const row =
      typeof response?.id === 'string'
        ? await this.sql.get<{ id: string; accountId: string; publicKey: string; counter: number; transports: string | null }>(
            'SELECT id, account_id AS "accountId", public_key AS "publicKey", counter, transports FROM passkey_credentials WHERE id = ?',
            [response.id],
          )
        : undefined;
    if (!row) throw refused('no account has this passkey');
    let v: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      v = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.rpId,
        credential: {
          id: row.id,
          publicKey: new Uint8Array(Buffer.from(row.publicKey, 'base64url')),
          counter: row.counter,
          ...(row.transports ? { transports: JSON.parse(row.transports) } : {}),
        },
        requireUserVerification: false,
      });
    } catch (err) {
      throw refused((err as Error).message);
    }
    if (!v.verified) throw refused('the signature did not verify');
    await this.sql.run('UPDATE passkey_credentials SET counter = ?, last_used_at = ? WHERE id = ?', [
      v.authenticationInfo.newCounter,
      new Date(this.now()).toISOString(),
      row.id,
    ]);
    return row.accountId;
  }

  async count(accountId: string): Promise<number> {
    return (await this.sql.get<{ n: number }>('SELECT count(*) AS n FROM passkey_credentials WHERE account_id = ?', [accountId]))!.n;
  }
}
