// External login sessions (docs/cloud.md "External login"): a node asks for one, the person finishes it in a
// browser on the cloud's page (a passkey, or the OpenID provider), and the node learns the outcome by push
// (subscribe) or by polling (state). Two secrets: the node's session token (only its hash is stored; it reads the
// outcome and collects the Noise-bound token, once) and the browser id in the verification URI (it drives the
// page and cannot read the outcome). A session lives ttlMs (5 minutes) and then fails as session_expired.
import { createHash, randomBytes } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import {
  type CreateExternalSessionRequest,
  type ExternalMethodsResponse,
  type ExternalSessionResponse,
  type ExternalSessionState,
  ExternalSessionToken,
} from '../shared/wire/external-login.js';
import type { Accounts } from './accounts.js';
import type { AuthService, Principal } from './auth-service.js';
import type { CloudBus } from './bus.js';
import type { CloudSql } from './db/sql.js';
import { CloudError } from './errors.js';
import { OidcLogin } from './oidc-login.js';
import { shownName } from './otp-sender.js';
import type { Passkeys } from './passkeys.js';
import type { Telemetry } from './telemetry.js';

export const EXTERNAL_SESSION_TTL_MS = 5 * 60_000;
/** Pending sessions at once, cloud-wide: past it a new one is a 429 (each holds a row until it expires). */
export const MAX_PENDING_EXTERNAL_SESSIONS = 10_000;

type Row = {
  tokenHash: string;
  browserId: string;
  method: 'passkey' | 'passkey_register' | 'oidc';
  status: 'pending' | 'approved' | 'failed';
  deviceId: string;
  nodeName: string | null;
  noiseSessionId: string | null;
  accountId: string | null;
  webauthnOptions: string | null;
  oidcState: string | null;
  oidcNonce: string | null;
  oidcVerifier: string | null;
  error: string | null;
  createdAt: string;
  expiresAt: string;
  completedAt: string | null;
  consumedAt: string | null;
};
const SELECT_ROW =
  'SELECT token_hash AS "tokenHash", browser_id AS "browserId", method, status, device_id AS "deviceId", node_name AS "nodeName", ' +
  'noise_session_id AS "noiseSessionId", account_id AS "accountId", webauthn_options AS "webauthnOptions", oidc_state AS "oidcState", ' +
  'oidc_nonce AS "oidcNonce", oidc_verifier AS "oidcVerifier", error, created_at AS "createdAt", expires_at AS "expiresAt", ' +
  'completed_at AS "completedAt", consumed_at AS "consumedAt" FROM external_login_sessions';
/** Bus subject: a session changed on some instance (the data is its token hash); whoever holds a listener reads it. */
export const EXTERNAL_SESSION_SUBJECT = 'external.changed';
/** What a session's state says without the token. */
function baseState(row: Row): ExternalSessionState {
  return { status: row.status, method: row.method, expires_at: row.expiresAt, error: row.error, mfa_required: false };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

export interface ExternalLoginDeps {
  sql: CloudSql;
  /** Sessions are pushed from whichever instance holds the node's socket, wherever the browser finished. */
  bus: CloudBus;
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
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly d: ExternalLoginDeps) {
    this.ttlMs = d.ttlMs ?? EXTERNAL_SESSION_TTL_MS;
    this.now = d.now ?? Date.now;
  }

  /** Sessions that expire while nobody looks still fail on time (pushed, counted). */
  start(): void {
    this.sweeper = setInterval(() => void this.expireDue().catch(() => {}), Math.min(5_000, Math.max(50, this.ttlMs / 4)));
    this.sweeper.unref();
    if (this.d.bus.kind !== 'none')
      this.unsubscribe = this.d.bus.subscribe(EXTERNAL_SESSION_SUBJECT, (tokenHash) => {
        if (!this.listeners.has(tokenHash)) return;
        void this.d.sql
          .get<Row>(`${SELECT_ROW} WHERE token_hash = ?`, [tokenHash])
          .then((row) => (row ? this.notifyLocal(row) : undefined))
          .catch(() => {});
      });
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.unsubscribe?.();
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
      if ((await this.d.accounts.emailOf(principal.accountId)) === null)
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
      noiseSessionId = await this.d.auth.proveNoise(req, req.device_id);
      deviceId = req.device_id;
    }
    await this.expireDue();
    const pending = (await this.d.sql.get<{ n: number }>("SELECT count(*) AS n FROM external_login_sessions WHERE status = 'pending'"))!.n;
    if (pending >= MAX_PENDING_EXTERNAL_SESSIONS)
      throw new CloudError(429, 'too_many_attempts', 'Too many sign-ins are waiting on this cloud; try again in a minute.', 60);
    const token = randomBytes(32).toString('base64url');
    const browserId = randomBytes(18).toString('base64url');
    const expiresAt = this.iso(this.ttlMs);
    const webauthnOptions = req.method === 'oidc' ? null : JSON.stringify(await this.webauthnOptionsFor(req.method, accountId));
    await this.d.sql.run(
      'INSERT INTO external_login_sessions (token_hash, browser_id, method, status, device_id, node_name, noise_session_id, account_id, ' +
        "webauthn_options, created_at, expires_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
      [
        sha256(token),
        browserId,
        req.method,
        deviceId,
        shownName(req.name) ?? null,
        noiseSessionId,
        accountId,
        webauthnOptions,
        this.iso(),
        expiresAt,
      ],
    );
    this.d.telemetry.emit({ name: 'external_login.session_created', code: req.method });
    return {
      session_token: token,
      verification_uri: `${this.d.origin()}/login/external/${browserId}`,
      method: req.method,
      expires_at: expiresAt,
    };
  }

  private async byToken(token: string): Promise<Row> {
    const row = ExternalSessionToken.safeParse(token).success
      ? await this.d.sql.get<Row>(`${SELECT_ROW} WHERE token_hash = ?`, [sha256(token)])
      : undefined;
    if (!row) throw new CloudError(404, 'session_not_found', 'No such sign-in session.');
    return this.expired(row);
  }

  /** A pending session past its time fails now (and is pushed and counted once: the update is conditional). */
  private async expired(row: Row): Promise<Row> {
    if (row.status !== 'pending' || Date.parse(row.expiresAt) > this.now()) return row;
    const r = await this.d.sql.run(
      "UPDATE external_login_sessions SET status = 'failed', error = 'session_expired', completed_at = ? WHERE token_hash = ? AND status = 'pending'",
      [this.iso(), row.tokenHash],
    );
    const now = { ...row, status: 'failed' as const, error: 'session_expired', completedAt: this.iso() };
    if (r.changes === 1) {
      this.d.telemetry.emit({ name: 'external_login.expired', code: row.method });
      this.changed(now);
    }
    return now;
  }

  async expireDue(): Promise<void> {
    const due = await this.d.sql.all<Row>(`${SELECT_ROW} WHERE status = 'pending' AND expires_at <= ?`, [this.iso()]);
    for (const row of due) await this.expired(row);
    // Finished sessions are kept a day (a late poll still gets a clear answer), then go.
    await this.d.sql.run('DELETE FROM external_login_sessions WHERE expires_at <= ?', [this.iso(-24 * 3600_000)]);
  }

  /**
   * GET /api/auth/external/sessions/:token (and each push): the session's state; for an approved login the
   * first read also carries the node's token (issued then, bound to its Noise session), later reads are a 409.
   */
  async state(token: string): Promise<ExternalSessionState> {
    return this.stateOf(await this.byToken(token));
  }

  private async stateOf(row: Row): Promise<ExternalSessionState> {
    const base = baseState(row);
    if (row.status !== 'approved' || row.method === 'passkey_register') return base;
    if (row.consumedAt) throw new CloudError(409, 'session_used', 'This sign-in was already collected: start a new one.');
    const tokens = await this.d.sql.tx(async (tx) => {
      const r = await tx.run('UPDATE external_login_sessions SET consumed_at = ? WHERE token_hash = ? AND consumed_at IS NULL', [
        this.iso(),
        row.tokenHash,
      ]);
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
        email: await this.d.accounts.emailOf(row.accountId!),
      },
    };
  }

  /**
   * Push: `fn` hears the session's state now and at every change (an approved login's tokens go to the first
   * listener or reader only). Returns the unsubscribe.
   */
  async subscribe(token: string, fn: (s: ExternalSessionState) => void): Promise<() => void> {
    const row = await this.byToken(token);
    const set = this.listeners.get(row.tokenHash) ?? new Set();
    // A fresh function per subscription: the same `fn` subscribed twice is unsubscribed one at a time.
    const listener = (s: ExternalSessionState) => fn(s);
    set.add(listener);
    this.listeners.set(row.tokenHash, set);
    await this.deliver(row, listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(row.tokenHash);
    };
  }

  /** Pushed here, and told the other instances (one of them may hold the node's socket). */
  private changed(row: Row): void {
    this.notifyLocal(row);
    if (this.d.bus.kind !== 'none') this.d.bus.publish(EXTERNAL_SESSION_SUBJECT, row.tokenHash);
  }

  private notifyLocal(row: Row): void {
    for (const fn of [...(this.listeners.get(row.tokenHash) ?? [])]) void this.deliver(row, fn).catch(() => {});
  }

  private async deliver(row: Row, fn: (s: ExternalSessionState) => void): Promise<void> {
    let s: ExternalSessionState;
    try {
      s = await this.stateOf(row);
    } catch (err) {
      // Collected meanwhile (by a poll): the push still says how it ended, without the token.
      if (!(err instanceof CloudError && err.code === 'session_used')) throw err;
      s = baseState(row);
    }
    fn(s);
  }

  // ---- the browser's side ---------------------------------------------------------------------------------

  /** The session the page at /login/external/:browser_id drives; refused once it is over. */
  async pending(browserId: string): Promise<Row> {
    const row = /^[A-Za-z0-9_-]{24}$/.test(browserId)
      ? await this.d.sql.get<Row>(`${SELECT_ROW} WHERE browser_id = ?`, [browserId])
      : undefined;
    if (!row) throw new CloudError(404, 'session_not_found', 'No such sign-in: start again from Salita.');
    const now = await this.expired(row);
    if (now.status === 'failed' && now.error === 'session_expired')
      throw new CloudError(410, 'session_expired', 'This sign-in expired: start again from Salita.');
    if (now.status !== 'pending') throw new CloudError(409, 'session_finished', 'This sign-in is already finished.');
    return now;
  }

  private async finish(row: Row, outcome: { status: 'approved'; accountId: string } | { status: 'failed'; error: string }): Promise<void> {
    const r =
      outcome.status === 'approved'
        ? await this.d.sql.run(
            "UPDATE external_login_sessions SET status = 'approved', account_id = ?, completed_at = ? WHERE token_hash = ? AND status = 'pending'",
            [outcome.accountId, this.iso(), row.tokenHash],
          )
        : await this.d.sql.run(
            "UPDATE external_login_sessions SET status = 'failed', error = ?, completed_at = ? WHERE token_hash = ? AND status = 'pending'",
            [outcome.error, this.iso(), row.tokenHash],
          );
    if (r.changes !== 1) throw new CloudError(409, 'session_finished', 'This sign-in is already finished.');
    if (outcome.status === 'approved') this.d.telemetry.emit({ name: 'external_login.completed', code: row.method });
    const now = (await this.d.sql.get<Row>(`${SELECT_ROW} WHERE token_hash = ?`, [row.tokenHash]))!;
    this.changed(now);
  }

  private async webauthnOptionsFor(method: 'passkey' | 'passkey_register', accountId: string | null) {
    return method === 'passkey_register'
      ? this.d.passkeys.registrationOptions(accountId!, (await this.d.accounts.emailOf(accountId!)) ?? accountId!)
      : this.d.passkeys.authenticationOptions();
  }

  /**
   * The WebAuthn options of the page's ceremony: those made with the session, or fresh ones (a new challenge)
   * once an answer was checked against those.
   */
  async passkeyOptions(browserId: string): Promise<unknown> {
    const row = await this.pending(browserId);
    if (row.method === 'oidc') throw new CloudError(400, 'invalid_request', 'This sign-in is with the OpenID provider, not a passkey.');
    if (row.webauthnOptions) return JSON.parse(row.webauthnOptions);
    const options = await this.webauthnOptionsFor(row.method, row.accountId);
    await this.d.sql.run('UPDATE external_login_sessions SET webauthn_options = ? WHERE token_hash = ?', [
      JSON.stringify(options),
      row.tokenHash,
    ]);
    return options;
  }

  /**
   * The browser's WebAuthn answer. A refused one (another origin or RP ID, an old challenge, a replay) leaves
   * the session pending: the person may try again until it expires.
   */
  async passkeyFinish(browserId: string, response: unknown): Promise<void> {
    const row = await this.pending(browserId);
    const challenge = row.webauthnOptions ? (JSON.parse(row.webauthnOptions) as { challenge: string }).challenge : null;
    if (row.method === 'oidc' || !challenge)
      throw new CloudError(400, 'invalid_request', 'Ask for the passkey options first (this page does).');
    if (typeof response !== 'object' || response === null)
      throw new CloudError(400, 'invalid_request', 'response: the WebAuthn credential as JSON.');
    // One answer per challenge: a second try needs new options (so a captured answer cannot be replayed).
    // Conditional on the options read: of two answers at once (two instances), one goes on.
    const took = await this.d.sql.run(
      'UPDATE external_login_sessions SET webauthn_options = NULL WHERE token_hash = ? AND webauthn_options = ?',
      [row.tokenHash, row.webauthnOptions],
    );
    if (took.changes !== 1) throw new CloudError(400, 'invalid_request', 'Ask for the passkey options first (this page does).');
    if (row.method === 'passkey_register') {
      await this.d.passkeys.register(row.accountId!, challenge, response as RegistrationResponseJSON);
      await this.finish(row, { status: 'approved', accountId: row.accountId! });
      return;
    }
    const accountId = await this.d.passkeys.authenticate(challenge, response as AuthenticationResponseJSON);
    await this.finish(row, { status: 'approved', accountId });
  }

  /** Where the page sends the browser for an OpenID login (the state, nonce and PKCE verifier stay here). */
  async oidcStart(browserId: string): Promise<URL> {
    const row = await this.pending(browserId);
    if (row.method !== 'oidc' || !this.d.oidc) throw new CloudError(400, 'invalid_request', 'This sign-in is not with an OpenID provider.');
    const s = OidcLogin.secrets();
    await this.d.sql.run('UPDATE external_login_sessions SET oidc_state = ?, oidc_nonce = ?, oidc_verifier = ? WHERE token_hash = ?', [
      s.state,
      s.nonce,
      s.verifier,
      row.tokenHash,
    ]);
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
    const row = state ? await this.d.sql.get<Row>(`${SELECT_ROW} WHERE oidc_state = ?`, [state]) : undefined;
    if (!row || !this.d.oidc || !row.oidcNonce || !row.oidcVerifier)
      throw new CloudError(400, 'oidc_state_invalid', 'This answer from the provider belongs to no sign-in here.');
    const live = await this.pending(row.browserId);
    const error = url.searchParams.get('error');
    if (error) {
      await this.finish(live, { status: 'failed', error: error === 'access_denied' ? 'oidc_denied' : 'oidc_failed' });
      return { approved: false, message: error === 'access_denied' ? 'You declined the sign-in.' : `The provider refused: ${error}.` };
    }
    let who: Awaited<ReturnType<OidcLogin['callback']>>;
    try {
      who = await this.d.oidc.callback(url, { state, nonce: row.oidcNonce, verifier: row.oidcVerifier });
    } catch (err) {
      await this.finish(live, { status: 'failed', error: 'oidc_failed' });
      throw err;
    }
    const accountId = await this.linkedAccount(who);
    if (!accountId) {
      await this.finish(live, { status: 'failed', error: 'oidc_no_email' });
      return { approved: false, message: 'The provider did not give a verified email address, so no account could be found.' };
    }
    await this.finish(live, { status: 'approved', accountId });
    return { approved: true, message: 'Signed in.' };
  }

  private async linkedAccount(who: { issuer: string; subject: string; email: string | null }): Promise<string | null> {
    const linked = await this.d.sql.get<{ accountId: string }>(
      'SELECT account_id AS "accountId" FROM external_identities WHERE issuer = ? AND subject = ?',
      [who.issuer, who.subject],
    );
    if (linked) return linked.accountId;
    if (!who.email) return null;
    const accountId = await this.d.accounts.accountForEmail(who.email);
    await this.d.sql.run(
      'INSERT INTO external_identities (issuer, subject, account_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [who.issuer, who.subject, accountId, this.iso()],
    );
    return accountId;
  }
}
