// External login sessions (docs/cloud.md "External login"): a node asks for one, the person finishes it in a
// browser on the cloud's page (a passkey, or the OpenID provider), and the node learns the outcome by push
// (subscribe) or by polling (state). Two secrets: the node's session token (only its hash is stored; it reads the
// outcome and collects the Noise-bound token, once) and the browser id in the verification URI (it drives the
// page and cannot read the outcome). A session lives ttlMs (5 minutes) and then fails as session_expired.
import { createHash, randomBytes } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { and, count, eq, isNull, lte } from 'drizzle-orm';
import {
  type CreateExternalSessionRequest,
  type ExternalMethodsResponse,
  type ExternalSessionResponse,
  type ExternalSessionState,
  ExternalSessionToken,
} from '../shared/wire/external-login.js';
import type { Accounts } from './accounts.js';
import type { AuthService, Principal } from './auth-service.js';
import type { CloudDb } from './db/open.js';
import { externalIdentities, externalLoginSessions } from './db/schema.js';
import { CloudError } from './errors.js';
import { OidcLogin } from './oidc-login.js';
import { shownName } from './otp-sender.js';
import type { Passkeys } from './passkeys.js';
import type { Telemetry } from './telemetry.js';

export const EXTERNAL_SESSION_TTL_MS = 5 * 60_000;
/** Pending sessions at once, cloud-wide: past it a new one is a 429 (each holds a row until it expires). */
export const MAX_PENDING_EXTERNAL_SESSIONS = 10_000;

type Row = typeof externalLoginSessions.$inferSelect;
/** What a session's state says without the token. */
function baseState(row: Row): ExternalSessionState {
  return { status: row.status, method: row.method, expires_at: row.expiresAt, error: row.error, mfa_required: false };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

export interface ExternalLoginDeps {
  db: CloudDb;
  auth: AuthService;
  accounts: Accounts;
  telemetry: Telemetry;
  passkeys: Passkeys;
  oidc: OidcLogin | null;
  /** The cloud's public origin: the verification URIs point there (a getter: known once the cloud listens). */
  origin: () => string;
  ttlMs?: number;
  now?: () => number;
}

export class ExternalLogins {
  private readonly listeners = new Map<string, Set<(s: ExternalSessionState) => void>>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly d: ExternalLoginDeps) {
    this.ttlMs = d.ttlMs ?? EXTERNAL_SESSION_TTL_MS;
    this.now = d.now ?? Date.now;
  }

  /** Sessions that expire while nobody looks still fail on time (pushed, counted). */
  start(): void {
    this.sweeper = setInterval(() => this.expireDue(), Math.min(5_000, Math.max(50, this.ttlMs / 4)));
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.listeners.clear();
  }

  private iso(plusMs = 0): string {
    return new Date(this.now() + plusMs).toISOString();
  }

  methods(): ExternalMethodsResponse {
    return { passkey: true, oidc: this.d.oidc ? { name: this.d.oidc.provider.name } : null };
  }

  /** POST /api/auth/external/sessions. `principal`: the caller's token, if it sent one (a registration needs it). */
  async create(req: CreateExternalSessionRequest, principal: Principal | null): Promise<ExternalSessionResponse> {
    let deviceId: string;
    let noiseSessionId: string | null = null;
    let accountId: string | null = null;
    if (req.method === 'passkey_register') {
      if (!principal)
        throw new CloudError(401, 'token_missing', 'Adding a passkey needs the node to be signed in: send `Authorization: Noise <token>`.');
      if (!principal.accountId) throw new CloudError(403, 'node_not_in_account', 'This node is in no account.');
      if (this.d.accounts.emailOf(principal.accountId) === null)
        throw new CloudError(
          400,
          'email_required',
          'A passkey belongs to an email account: sign this node in with an email address first.',
        );
      deviceId = principal.deviceId;
      accountId = principal.accountId;
    } else {
      if (req.method === 'oidc' && !this.d.oidc)
        throw new CloudError(404, 'method_unavailable', 'This cloud has no OpenID provider configured.');
      if (!req.device_id) throw new CloudError(400, 'invalid_request', 'device_id: the node key this login is for.');
      noiseSessionId = this.d.auth.proveNoise(req, req.device_id);
      deviceId = req.device_id;
    }
    this.expireDue();
    const pending = this.d.db
      .select({ n: count() })
      .from(externalLoginSessions)
      .where(eq(externalLoginSessions.status, 'pending'))
      .get()!.n;
    if (pending >= MAX_PENDING_EXTERNAL_SESSIONS)
      throw new CloudError(429, 'too_many_attempts', 'Too many sign-ins are waiting on this cloud; try again in a minute.', 60);
    const token = randomBytes(32).toString('base64url');
    const browserId = randomBytes(18).toString('base64url');
    const expiresAt = this.iso(this.ttlMs);
    const webauthnOptions = req.method === 'oidc' ? null : JSON.stringify(await this.webauthnOptionsFor(req.method, accountId));
    this.d.db
      .insert(externalLoginSessions)
      .values({
        tokenHash: sha256(token),
        browserId,
        method: req.method,
        status: 'pending',
        deviceId,
        nodeName: shownName(req.name) ?? null,
        noiseSessionId,
        accountId,
        webauthnOptions,
        createdAt: this.iso(),
        expiresAt,
      })
      .run();
    this.d.telemetry.emit({ name: 'external_login.session_created', code: req.method });
    return {
      session_token: token,
      verification_uri: `${this.d.origin()}/login/external/${browserId}`,
      method: req.method,
      expires_at: expiresAt,
    };
  }

  private byToken(token: string): Row {
    const row = ExternalSessionToken.safeParse(token).success
      ? this.d.db
          .select()
          .from(externalLoginSessions)
          .where(eq(externalLoginSessions.tokenHash, sha256(token)))
          .get()
      : undefined;
    if (!row) throw new CloudError(404, 'session_not_found', 'No such sign-in session.');
    return this.expired(row);
  }

  /** A pending session past its time fails now (and is pushed and counted once: the update is conditional). */
  private expired(row: Row): Row {
    if (row.status !== 'pending' || Date.parse(row.expiresAt) > this.now()) return row;
    const r = this.d.db
      .update(externalLoginSessions)
      .set({ status: 'failed', error: 'session_expired', completedAt: this.iso() })
      .where(and(eq(externalLoginSessions.tokenHash, row.tokenHash), eq(externalLoginSessions.status, 'pending')))
      .run();
    const now = { ...row, status: 'failed' as const, error: 'session_expired', completedAt: this.iso() };
    if (r.changes === 1) {
      this.d.telemetry.emit({ name: 'external_login.expired', code: row.method });
      this.changed(now);
    }
    return now;
  }

  expireDue(): void {
    const due = this.d.db
      .select()
      .from(externalLoginSessions)
      .where(and(eq(externalLoginSessions.status, 'pending'), lte(externalLoginSessions.expiresAt, this.iso())))
      .all();
    for (const row of due) this.expired(row);
    // Finished sessions are kept a day (a late poll still gets a clear answer), then go.
    this.d.db
      .delete(externalLoginSessions)
      .where(lte(externalLoginSessions.expiresAt, this.iso(-24 * 3600_000)))
      .run();
  }

  /**
   * GET /api/auth/external/sessions/:token (and each push): the session's state; for an approved login the
   * first read also carries the node's token (issued then, bound to its Noise session), later reads are a 409.
   */
  state(token: string): ExternalSessionState {
    return this.stateOf(this.byToken(token));
  }

  private stateOf(row: Row): ExternalSessionState {
    const base = baseState(row);
    if (row.status !== 'approved' || row.method === 'passkey_register') return base;
    if (row.consumedAt) throw new CloudError(409, 'session_used', 'This sign-in was already collected: start a new one.');
    const tokens = this.d.db.transaction((tx) => {
      const r = tx
        .update(externalLoginSessions)
        .set({ consumedAt: this.iso() })
        .where(and(eq(externalLoginSessions.tokenHash, row.tokenHash), isNull(externalLoginSessions.consumedAt)))
        .run();
      if (r.changes !== 1) throw new CloudError(409, 'session_used', 'This sign-in was already collected: start a new one.');
      return this.d.auth.issueApproved(tx, {
        deviceId: row.deviceId,
        noiseSessionId: row.noiseSessionId!,
        accountId: row.accountId!,
        name: row.nodeName,
      });
    });
    return {
      ...base,
      tokens: {
        token: tokens.token,
        expires_at: tokens.expiresAt,
        noise_session_id: row.noiseSessionId,
        email: this.d.accounts.emailOf(row.accountId!),
      },
    };
  }

  /**
   * Push: `fn` hears the session's state now and at every change (an approved login's tokens go to the first
   * listener or reader only). Returns the unsubscribe.
   */
  subscribe(token: string, fn: (s: ExternalSessionState) => void): () => void {
    const row = this.byToken(token);
    const set = this.listeners.get(row.tokenHash) ?? new Set();
    // A fresh function per subscription: the same `fn` subscribed twice is unsubscribed one at a time.
    const listener = (s: ExternalSessionState) => fn(s);
    set.add(listener);
    this.listeners.set(row.tokenHash, set);
    this.deliver(row, listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(row.tokenHash);
    };
  }

  private changed(row: Row): void {
    for (const fn of [...(this.listeners.get(row.tokenHash) ?? [])]) this.deliver(row, fn);
  }

  private deliver(row: Row, fn: (s: ExternalSessionState) => void): void {
    let s: ExternalSessionState;
    try {
      s = this.stateOf(row);
    } catch (err) {
      // Collected meanwhile (by a poll): the push still says how it ended, without the token.
      if (!(err instanceof CloudError && err.code === 'session_used')) throw err;
      s = baseState(row);
    }
    fn(s);
  }

  // ---- the browser's side ---------------------------------------------------------------------------------

  /** The session the page at /login/external/:browser_id drives; refused once it is over. */
  pending(browserId: string): Row {
    const row = /^[A-Za-z0-9_-]{24}$/.test(browserId)
      ? this.d.db.select().from(externalLoginSessions).where(eq(externalLoginSessions.browserId, browserId)).get()
      : undefined;
    if (!row) throw new CloudError(404, 'session_not_found', 'No such sign-in: start again from Salita.');
    const now = this.expired(row);
    if (now.status === 'failed' && now.error === 'session_expired')
      throw new CloudError(410, 'session_expired', 'This sign-in expired: start again from Salita.');
    if (now.status !== 'pending') throw new CloudError(409, 'session_finished', 'This sign-in is already finished.');
    return now;
  }

  private finish(row: Row, outcome: { status: 'approved'; accountId: string } | { status: 'failed'; error: string }): void {
    const r = this.d.db
      .update(externalLoginSessions)
      .set(
        outcome.status === 'approved'
          ? { status: 'approved', accountId: outcome.accountId, completedAt: this.iso() }
          : { status: 'failed', error: outcome.error, completedAt: this.iso() },
      )
      .where(and(eq(externalLoginSessions.tokenHash, row.tokenHash), eq(externalLoginSessions.status, 'pending')))
      .run();
    if (r.changes !== 1) throw new CloudError(409, 'session_finished', 'This sign-in is already finished.');
    if (outcome.status === 'approved') this.d.telemetry.emit({ name: 'external_login.completed', code: row.method });
    const now = this.d.db.select().from(externalLoginSessions).where(eq(externalLoginSessions.tokenHash, row.tokenHash)).get()!;
    this.changed(now);
  }

  private webauthnOptionsFor(method: 'passkey' | 'passkey_register', accountId: string | null) {
    return method === 'passkey_register'
      ? this.d.passkeys.registrationOptions(accountId!, this.d.accounts.emailOf(accountId!) ?? accountId!)
      : this.d.passkeys.authenticationOptions();
  }

  /**
   * The WebAuthn options of the page's ceremony: those made with the session, or fresh ones (a new challenge)
   * once an answer was checked against those.
   */
  async passkeyOptions(browserId: string): Promise<unknown> {
    const row = this.pending(browserId);
    if (row.method === 'oidc') throw new CloudError(400, 'invalid_request', 'This sign-in is with the OpenID provider, not a passkey.');
    if (row.webauthnOptions) return JSON.parse(row.webauthnOptions);
    const options = await this.webauthnOptionsFor(row.method, row.accountId);
    this.d.db
      .update(externalLoginSessions)
      .set({ webauthnOptions: JSON.stringify(options) })
      .where(eq(externalLoginSessions.tokenHash, row.tokenHash))
      .run();
    return options;
  }

  /**
   * The browser's WebAuthn answer. A refused one (another origin or RP ID, an old challenge, a replay) leaves
   * the session pending: the person may try again until it expires.
   */
  async passkeyFinish(browserId: string, response: unknown): Promise<void> {
    const row = this.pending(browserId);
    const challenge = row.webauthnOptions ? (JSON.parse(row.webauthnOptions) as { challenge: string }).challenge : null;
    if (row.method === 'oidc' || !challenge)
      throw new CloudError(400, 'invalid_request', 'Ask for the passkey options first (this page does).');
    if (typeof response !== 'object' || response === null)
      throw new CloudError(400, 'invalid_request', 'response: the WebAuthn credential as JSON.');
    // One answer per challenge: a second try needs new options (so a captured answer cannot be replayed).
    this.d.db.update(externalLoginSessions).set({ webauthnOptions: null }).where(eq(externalLoginSessions.tokenHash, row.tokenHash)).run();
    if (row.method === 'passkey_register') {
      await this.d.passkeys.register(row.accountId!, challenge, response as RegistrationResponseJSON);
      this.finish(row, { status: 'approved', accountId: row.accountId! });
      return;
    }
    const accountId = await this.d.passkeys.authenticate(challenge, response as AuthenticationResponseJSON);
    this.finish(row, { status: 'approved', accountId });
  }

  /** Where the page sends the browser for an OpenID login (the state, nonce and PKCE verifier stay here). */
  async oidcStart(browserId: string): Promise<URL> {
    const row = this.pending(browserId);
    if (row.method !== 'oidc' || !this.d.oidc) throw new CloudError(400, 'invalid_request', 'This sign-in is not with an OpenID provider.');
    const s = OidcLogin.secrets();
    this.d.db
      .update(externalLoginSessions)
      .set({ oidcState: s.state, oidcNonce: s.nonce, oidcVerifier: s.verifier })
      .where(eq(externalLoginSessions.tokenHash, row.tokenHash))
      .run();
    return this.d.oidc.authorizationUrl(s);
  }

  /**
   * GET /api/auth/external/oidc/callback. An unknown state is refused and changes nothing (it may be anyone's
   * guess); the provider's refusal (`error=`) or a code that does not redeem (a wrong PKCE verifier, a bad ID
   * token) fails the session; otherwise the provider identity is linked to its account (by its verified email
   * on first use) and the session approved.
   */
  async oidcCallback(url: URL): Promise<{ approved: boolean; message: string }> {
    const state = url.searchParams.get('state') ?? '';
    const row = state ? this.d.db.select().from(externalLoginSessions).where(eq(externalLoginSessions.oidcState, state)).get() : undefined;
    if (!row || !this.d.oidc || !row.oidcNonce || !row.oidcVerifier)
      throw new CloudError(400, 'oidc_state_invalid', 'This answer from the provider belongs to no sign-in here.');
    const live = this.pending(row.browserId);
    const error = url.searchParams.get('error');
    if (error) {
      this.finish(live, { status: 'failed', error: error === 'access_denied' ? 'oidc_denied' : 'oidc_failed' });
      return { approved: false, message: error === 'access_denied' ? 'You declined the sign-in.' : `The provider refused: ${error}.` };
    }
    let who: Awaited<ReturnType<OidcLogin['callback']>>;
    try {
      who = await this.d.oidc.callback(url, { state, nonce: row.oidcNonce, verifier: row.oidcVerifier });
    } catch (err) {
      this.finish(live, { status: 'failed', error: 'oidc_failed' });
      throw err;
    }
    const accountId = this.linkedAccount(who);
    if (!accountId) {
      this.finish(live, { status: 'failed', error: 'oidc_no_email' });
      return { approved: false, message: 'The provider did not give a verified email address, so no account could be found.' };
    }
    this.finish(live, { status: 'approved', accountId });
    return { approved: true, message: 'Signed in.' };
  }

  private linkedAccount(who: { issuer: string; subject: string; email: string | null }): string | null {
    const linked = this.d.db
      .select()
      .from(externalIdentities)
      .where(and(eq(externalIdentities.issuer, who.issuer), eq(externalIdentities.subject, who.subject)))
      .get();
    if (linked) return linked.accountId;
    if (!who.email) return null;
    const accountId = this.d.accounts.accountForEmail(who.email);
    this.d.db
      .insert(externalIdentities)
      .values({ issuer: who.issuer, subject: who.subject, accountId, createdAt: this.iso() })
      .onConflictDoNothing()
      .run();
    return accountId;
  }
}
