// This node's login at its cloud and the token it holds: the Noise handshake (key pinned per URL) + one-time
// code, logout, the token's refresh at half its life, and what a refused token means (log in again, or, for
// noise_handshake, a new login started by itself). The token lives in cloud.json (cloud-state-file.ts), sealed.
// The session drives the relay transport only through RelayControl: it (re)connects with a new token and stops
// the connection when the token goes.
import type { Logger } from 'pino';
import type { KeyPair } from '../../../shared/crypto/noise/index.js';
import type { ExternalSessionResponse, ExternalSessionState } from '../../../shared/wire/external-login.js';
import type { ExternalLoginView } from '../../../shared/wire/relay.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { CloudCallError, createExternalSession, logoutToken, refreshToken, requestChallenge, verifyCode } from './cloud-api.js';
import { CloudHandshakeError, type CloudNoiseSession, cloudHandshakeWithPin } from './cloud-handshake.js';
import type { CloudLinkOptions } from './cloud-link-options.js';
import type { CloudLinkReport } from './cloud-link-report.js';
import type { CloudRelayTransport } from './cloud-relay-transport.js';
import { type CloudState, CloudStateFile } from './cloud-state-file.js';
import { type ExternalSessionWatch, watchExternalSession } from './external-session-watch.js';
import { refusesToken } from './token-refusal.js';

/** A browser sign-in the node started, and how it stands. */
interface ExternalEntry {
  url: string;
  method: ExternalLoginView['method'];
  verificationUri: string;
  expiresAt: string;
  status: ExternalLoginView['status'];
  error: string | null;
  watch: ExternalSessionWatch;
}

/** What the Cloud panel says when a browser sign-in failed (the cloud's code). */
function externalFailureText(code: string): string {
  switch (code) {
    case 'session_expired':
      return 'The sign-in in the browser took longer than 5 minutes: start it again.';
    case 'oidc_denied':
      return 'The sign-in was declined at the provider.';
    case 'oidc_no_email':
      return 'The provider gave no verified email address, so no account could be found.';
    case 'oidc_failed':
      return "The provider's answer was refused (it may have been tampered with): start the sign-in again.";
    default:
      return `The browser sign-in did not go through (${code}).`;
  }
}

export type CloudLinkErrorCode =
  | 'cloud_unreachable'
  | 'cloud_key_changed'
  | 'cloud_rejected'
  | 'cloud_login_not_started'
  | 'invite_mismatch'
  | 'invalid_request';

export class CloudLinkError extends Error {
  constructor(
    public readonly code: CloudLinkErrorCode,
    message: string,
    public readonly cloudError?: string,
  ) {
    super(message);
    this.name = 'CloudLinkError';
  }
}

export function normalizeCloudUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new CloudLinkError('invalid_request', 'The cloud URL is not a URL.');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CloudLinkError('invalid_request', 'The cloud URL must start with http:// or https://.');
  if (u.search || u.hash || u.username || u.password)
    throw new CloudLinkError('invalid_request', 'The cloud URL must be a plain base URL (no query, fragment or credentials).');
  return u.toString().replace(/\/+$/, '');
}

/** Codes of a refused token that mean "log in again" (docs/cloud.md §4). */

/** A token of unknown age (from an older cloud.json) is assumed to live this long: the cloud's default. */
const ASSUMED_TOKEN_LIFETIME_MS = 12 * 60 * 60_000;

export const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');

export interface PendingLogin {
  url: string;
  /** The account the code was mailed to; null: the cloud's legacy device-id login. */
  email: string | null;
  session: CloudNoiseSession;
  challengeId: string;
  expiresAt: string;
}

/** What the session asks of the relay transport. */
export type RelayControl = Pick<CloudRelayTransport, 'phase' | 'connect' | 'disconnect' | 'setIdle' | 'retryLater' | 'resetBackoff'>;

export interface CloudSessionDeps {
  dataDir: string;
  box: SecretBox;
  staticKey: () => KeyPair;
  /** The node's display name, sent with a code request so the person reading the cloud's log knows whose it is. */
  nodeName?: (() => string) | undefined;
  settings: { cloudUrl(): string | null; setCloudUrl(url: string | null): void };
  log: Logger;
  options: Pick<CloudLinkOptions, 'handshakeTimeoutMs' | 'tokenRefreshRetryMs' | 'externalPollMs' | 'externalNoSocket'>;
  relay: RelayControl;
  /** The token was forgotten: what the cloud said about this login (refused devices) is void. */
  tokenForgotten(): void;
  report: CloudLinkReport;
}

export class CloudSession {
  private readonly file: CloudStateFile;
  private state: CloudState | null = null;
  private pending: PendingLogin | null = null;
  private ext: ExternalEntry | null = null;
  private tokenTimer: NodeJS.Timeout | undefined;
  /** Login, code, logout and token refresh run one at a time. */
  private ops: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly d: CloudSessionDeps) {
    this.file = new CloudStateFile(d.dataDir, d.box);
  }

  /** Reads cloud.json; an unreadable one leaves the link logged out with the reason as its error. */
  start(): void {
    const r = this.file.load();
    this.state = r.state;
    if (!r.ok) {
      this.d.report.setError('cloud_state_unreadable', `${r.reason}. The node is logged out of its cloud: log in again.`);
      this.d.log.error({ err: r.reason }, 'cloud state file unreadable; the cloud link is logged out');
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.tokenTimer);
    this.ext?.watch.stop();
  }

  /** The stored cloud (URL, pinned key, token) as last loaded, logged in or refreshed. */
  current(): Readonly<CloudState> | null {
    return this.state;
  }

  /** The URL and token to talk to the cloud with; null while logged out. */
  credentials(): { url: string; token: string } | null {
    const s = this.state;
    return s?.token ? { url: s.url, token: s.token } : null;
  }

  /** A token is stored for `url` (the configured cloud): the link may connect at start. */
  hasTokenFor(url: string | null): boolean {
    return !!url && this.state?.url === url && !!this.state.token;
  }

  /** The login waiting for its code, unless its code expired. */
  livePending(): PendingLogin | null {
    if (this.pending && Date.parse(this.pending.expiresAt) <= Date.now()) this.pending = null;
    return this.pending;
  }

  /**
   * Handshake (IK with the key pinned for this URL, else NX) and a code request. Resolves in awaiting_code;
   * rejects with CloudLinkError (the link's state is otherwise unchanged: a running connection goes on).
   */
  login(url: string, email: string | null): Promise<void> {
    return this.serial(async () => {
      const clean = normalizeCloudUrl(url);
      await this.beginLogin(clean, email);
      this.ext?.watch.stop();
      this.ext = null;
      this.d.report.clearError();
      this.d.report.changed();
    });
  }

  /** Verifies the code with the handshake's proof, stores the sealed token, connects. */
  submitCode(code: string): Promise<void> {
    return this.serial(async () => {
      const p = this.livePending();
      if (!p)
        throw new CloudLinkError(
          'cloud_login_not_started',
          'No cloud login is waiting for a code (none was started, or its code expired): log in first.',
        );
      let tok: { token: string; expiresAt: string };
      try {
        tok = await verifyCode(p.url, {
          challenge_id: p.challengeId,
          code: code.trim(),
          noise_session_id: p.session.sessionId,
          noise_signature: p.session.signature,
          last_handshake_at: p.session.completedAt,
        });
      } catch (err) {
        if (!(err instanceof CloudCallError)) throw err;
        if (err.kind === 'unreachable') {
          this.d.report.setError('cloud_unreachable', err.message);
          throw new CloudLinkError('cloud_unreachable', err.message);
        }
        // A wrong code may be typed again; every other refusal (expired, used, too many tries, handshake
        // expired) needs a new login.
        if (err.cloudError !== 'otp_invalid') this.pending = null;
        this.d.report.setError(err.cloudError, err.message);
        throw new CloudLinkError('cloud_rejected', `The cloud refused the code: ${err.message}`, err.cloudError);
      }
      this.pending = null;
      this.adoptToken(p.url, p.session, p.email, tok);
    });
  }

  /** A login went through (a code, or a browser sign-in): store the sealed token, connect. */
  private adoptToken(url: string, session: CloudNoiseSession, email: string | null, tok: { token: string; expiresAt: string }): void {
    const old = this.state;
    this.state = {
      url,
      cloudKey: b64(session.cloudStaticKey),
      token: tok.token,
      tokenExpiresAt: tok.expiresAt,
      tokenIssuedAt: new Date().toISOString(),
      email,
    };
    this.file.save(this.state);
    if (this.d.settings.cloudUrl() !== url) this.d.settings.setCloudUrl(url);
    this.d.report.clearError();
    this.d.log.info({ url, pattern: session.pattern, expires_at: tok.expiresAt }, 'logged in to the cloud');
    if (old?.token && old.url !== url) void this.bestEffortLogout(old.url, old.token);
    this.d.relay.disconnect();
    this.d.relay.resetBackoff();
    this.d.relay.connect('connecting');
  }

  // ---- external sign-in (a passkey or the OpenID provider, in the browser) ---------------------------------

  /** The browser sign-in (or passkey registration) under way, or how the last one ended. */
  external(): ExternalLoginView | null {
    const e = this.ext;
    if (!e) return null;
    if (e.status === 'pending' && Date.parse(e.expiresAt) <= Date.now()) {
      e.watch.stop();
      this.ext = { ...e, status: 'failed', error: 'session_expired' };
      return this.external();
    }
    return { method: e.method, verification_uri: e.verificationUri, expires_at: e.expiresAt, status: e.status, error: e.error, url: e.url };
  }

  /** A sign-in waits in the browser (the link's status is awaiting_browser). */
  awaitingBrowser(): boolean {
    const e = this.external();
    return e !== null && e.status === 'pending' && e.method !== 'passkey_register';
  }

  /**
   * Handshake + POST /api/auth/external/sessions: the person signs in on the cloud's page (the returned link,
   * opened in the system browser); the node hears the outcome by push (or polling) and, approved, takes its
   * Noise-bound token as a code login does. Rejects with CloudLinkError.
   */
  loginExternal(url: string, method: 'passkey' | 'oidc'): Promise<ExternalLoginView> {
    return this.serial(async () => {
      const clean = normalizeCloudUrl(url);
      const session = await this.handshake(clean);
      const made = await this.loginCall('The cloud refused the sign-in', () =>
        createExternalSession(clean, {
          method,
          device_id: b64(this.d.staticKey().publicKey),
          ...(this.d.nodeName ? { name: this.d.nodeName() } : {}),
          noise_session_id: session.sessionId,
          noise_signature: session.signature,
          last_handshake_at: session.completedAt,
        }),
      );
      this.pending = null;
      this.startExternal(clean, made, session);
      this.d.report.clearError();
      this.d.report.changed();
      return this.external()!;
    });
  }

  /** A signed-in node adds a passkey to its account (registered in the browser, on the cloud's page). */
  addPasskey(): Promise<ExternalLoginView> {
    return this.serial(async () => {
      const creds = this.credentials();
      if (!creds) throw new CloudLinkError('cloud_login_not_started', 'This node is not logged in to a cloud: log in first.');
      const made = await this.loginCall('The cloud refused the sign-in', () =>
        createExternalSession(creds.url, { method: 'passkey_register' }, creds.token),
      );
      this.startExternal(creds.url, made, null);
      this.d.report.changed();
      return this.external()!;
    });
  }

  /** A login step's REST call: its failure said in the view and as a CloudLinkError (refusals prefixed by `refused`). */
  private async loginCall<T>(refused: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof CloudCallError)) throw err;
      if (err.kind === 'unreachable') {
        this.d.report.setError('cloud_unreachable', err.message);
        throw new CloudLinkError('cloud_unreachable', err.message);
      }
      this.d.report.setError(err.cloudError, err.message);
      throw new CloudLinkError('cloud_rejected', `${refused}: ${err.message}`, err.cloudError);
    }
  }

  private startExternal(url: string, made: ExternalSessionResponse, session: CloudNoiseSession | null): void {
    this.ext?.watch.stop();
    const token = made.session_token;
    const entry: ExternalEntry = {
      url,
      method: made.method,
      verificationUri: made.verification_uri,
      expiresAt: made.expires_at,
      status: 'pending',
      error: null,
      watch: watchExternalSession({
        url,
        sessionToken: token,
        log: this.d.log,
        pollMs: this.d.options.externalPollMs,
        ...(this.d.options.externalNoSocket ? { noSocket: true } : {}),
        onState: (st) => void this.serial(async () => this.externalState(entry, st, session)),
      }),
    };
    this.ext = entry;
    // Headless, there is no browser to open: the link is in the log for the person to open elsewhere.
    this.d.log.info(
      { url, method: made.method, verification_uri: made.verification_uri },
      `open this link in a browser to ${made.method === 'passkey_register' ? 'add a passkey' : 'sign in'}: ${made.verification_uri}`,
    );
  }

  private externalState(entry: ExternalEntry, st: ExternalSessionState, session: CloudNoiseSession | null): void {
    if (this.ext !== entry || this.stopped) return;
    if (st.status === 'pending') return;
    if (st.status === 'approved' && entry.method !== 'passkey_register') {
      if (!st.tokens || !session) {
        this.ext = { ...entry, status: 'failed', error: 'session_used' };
        this.d.report.setError('session_used', 'The sign-in was collected by someone else: start it again.');
        return;
      }
      this.ext = { ...entry, status: 'approved', error: null };
      this.adoptToken(entry.url, session, st.tokens.email ?? null, {
        token: st.tokens.token,
        expiresAt: st.tokens.expires_at,
      });
      this.d.log.info({ method: entry.method }, 'signed in to the cloud in the browser');
      this.d.report.changed();
      return;
    }
    this.ext = { ...entry, status: st.status, error: st.error };
    if (st.status === 'failed') {
      const code = st.error ?? 'external_login_failed';
      this.d.report.setError(code, externalFailureText(code));
      this.d.log.warn({ method: entry.method, error: code }, 'the browser sign-in did not go through');
    } else {
      this.d.log.info('a passkey was added to the account');
    }
    this.d.report.changed();
  }

  /** Revokes the token at the cloud (best effort) and forgets it; the URL and the pinned key stay. */
  logout(): Promise<void> {
    return this.serial(async () => {
      this.pending = null;
      this.ext?.watch.stop();
      this.ext = null;
      const old = this.state;
      this.forgetToken();
      this.d.report.clearError();
      this.d.report.changed();
      if (old?.token) await this.bestEffortLogout(old.url, old.token);
      this.d.log.info('logged out of the cloud');
    });
  }

  /** The settings' cloud URL changed (PUT /api/admin/settings): a token for another cloud is dropped. */
  settingsChanged(): void {
    const url = this.d.settings.cloudUrl();
    if (this.state && this.state.url !== url && (this.state.token || this.d.relay.phase() !== 'idle')) {
      const old = this.state;
      this.forgetToken();
      if (old.token) void this.bestEffortLogout(old.url, old.token);
    }
    this.d.report.changed();
  }

  /** The relay said hello: refresh the token at half its life, so a running node never has to ask for a new code. */
  connected(): void {
    this.scheduleTokenRefresh();
  }

  /** The relay connection went (a new one schedules the refresh again). */
  dropped(): void {
    clearTimeout(this.tokenTimer);
  }

  /** The cloud refused the token (relay upgrade or a REST call). */
  tokenRefused(code: string): void {
    this.forgetToken();
    if (code === 'noise_handshake') {
      this.d.log.warn('the cloud requires a Noise-bound login now; starting a new login');
      this.d.report.setError('noise_handshake', 'The cloud now requires a Noise-bound login: requesting a new one-time code.');
      this.autoRelogin();
      return;
    }
    this.d.log.warn({ code }, "the cloud refused this node's token; logged out");
    this.d.report.setError(code, `The cloud refused this node's token (${code}): log in to the cloud again.`);
  }

  /** The login's handshake: IK with the key pinned for this URL, else NX; its failures said as CloudLinkError. */
  private async handshake(url: string): Promise<CloudNoiseSession> {
    const pinned = this.state?.url === url ? this.state.cloudKey : undefined;
    const staticKey = this.d.staticKey();
    const report = this.d.report;
    let session: CloudNoiseSession;
    try {
      // The deadline goes down to the socket: a timed-out handshake closes it instead of leaving it open.
      session = await cloudHandshakeWithPin({
        url,
        staticKey,
        pinnedCloudKey: pinned ? new Uint8Array(Buffer.from(pinned, 'base64url')) : undefined,
        signal: AbortSignal.timeout(this.d.options.handshakeTimeoutMs),
      });
    } catch (err) {
      if (!(err instanceof CloudHandshakeError)) throw err;
      if (err.code === 'cloud_key_changed') {
        this.d.log.error({ url, pinned, err: err.message }, "THE CLOUD'S STATIC KEY CHANGED: login refused");
        const message = `${err.message} The login was refused. If the cloud really got a new key, ask its operator why before trusting it.`;
        report.setError('cloud_key_changed', message);
        throw new CloudLinkError('cloud_key_changed', message);
      }
      if (err.code === 'connection_failed') {
        report.setError('cloud_unreachable', err.message);
        throw new CloudLinkError('cloud_unreachable', err.message);
      }
      report.setError(err.serverError?.error ?? 'noise_handshake_failed', err.message);
      throw new CloudLinkError(
        'cloud_rejected',
        `The cloud refused the handshake: ${err.message}`,
        err.serverError?.error ?? 'noise_handshake_failed',
      );
    }
    return session;
  }

  private async beginLogin(url: string, email: string | null): Promise<void> {
    const staticKey = this.d.staticKey();
    const session = await this.handshake(url);
    const challenge = await this.loginCall('The cloud refused to send a code', () =>
      requestChallenge(url, b64(staticKey.publicKey), this.d.nodeName?.(), email),
    );
    this.pending = { url, email, session, challengeId: challenge.challengeId, expiresAt: challenge.expiresAt };
    this.d.log.info(
      { url, pattern: session.pattern, challenge_id: challenge.challengeId },
      'cloud login started: a one-time code was sent',
    );
  }

  /** The cloud wants a Noise-bound login (noise_handshake): handshake + new code, retried while unreachable. */
  private autoRelogin(): void {
    const url = this.state?.url;
    if (!url || this.stopped) return;
    void this.serial(async () => {
      if (this.stopped || this.state?.url !== url || this.state.token || this.livePending()?.url === url) return;
      try {
        await this.beginLogin(url, this.state.email ?? null);
        this.d.relay.setIdle();
        this.d.report.setError(
          'noise_handshake',
          'The cloud now requires a Noise-bound login: a new one-time code was requested. Enter it to reconnect.',
        );
      } catch (err) {
        // Unreachable: shown as reconnecting, tried again after the relay's reconnect backoff.
        if (err instanceof CloudLinkError && err.code === 'cloud_unreachable') this.d.relay.retryLater(() => this.autoRelogin());
        else this.d.relay.setIdle();
        this.d.report.changed();
      }
    }).catch((err: Error) => this.d.log.warn({ err: err.message }, 'automatic cloud re-login failed'));
  }

  private async bestEffortLogout(url: string, token: string): Promise<void> {
    await Promise.race([
      logoutToken(url, token).catch((err: Error) =>
        this.d.log.warn({ err: err.message }, 'cloud logout call failed (the token is forgotten here anyway)'),
      ),
      new Promise((r) => setTimeout(r, 3_000).unref()),
    ]);
  }

  /** Stops the connection and forgets the token (memory and disk); keeps URL and pin. */
  private forgetToken(): void {
    this.d.relay.disconnect();
    this.d.relay.setIdle();
    this.d.tokenForgotten();
    if (this.state?.token) {
      this.state = { ...this.state, token: null, tokenExpiresAt: null };
      this.file.save(this.state);
    }
  }

  private scheduleTokenRefresh(at?: number): void {
    clearTimeout(this.tokenTimer);
    const s = this.state;
    if (!s?.token || !s.tokenExpiresAt) return;
    const expires = Date.parse(s.tokenExpiresAt);
    const issued = s.tokenIssuedAt ? Date.parse(s.tokenIssuedAt) : expires - ASSUMED_TOKEN_LIFETIME_MS;
    const due = at ?? issued + (expires - issued) / 2;
    // setTimeout takes at most 2^31-1 ms; a later due date is simply checked again then.
    this.tokenTimer = setTimeout(() => void this.refreshTokenNow(), Math.min(Math.max(0, due - Date.now()), 2 ** 31 - 1));
    this.tokenTimer.unref();
  }

  /** IK handshake (proves the node key) + POST /api/auth/refresh, then reconnect with the new token. */
  private refreshTokenNow(): Promise<void> {
    return this.serial(async () => {
      const s = this.state;
      if (this.stopped || !s?.token || this.d.relay.phase() !== 'connected') return;
      try {
        const session = await cloudHandshakeWithPin({
          url: s.url,
          staticKey: this.d.staticKey(),
          pinnedCloudKey: new Uint8Array(Buffer.from(s.cloudKey, 'base64url')),
          signal: AbortSignal.timeout(this.d.options.handshakeTimeoutMs),
        });
        const tok = await refreshToken(s.url, s.token, {
          noise_session_id: session.sessionId,
          noise_signature: session.signature,
          last_handshake_at: session.completedAt,
        });
        if (this.state !== s) return; // logged out or in again meanwhile
        this.state = { ...s, token: tok.token, tokenExpiresAt: tok.expiresAt, tokenIssuedAt: new Date().toISOString() };
        this.file.save(this.state);
        this.d.log.info({ expires_at: tok.expiresAt }, 'cloud token refreshed');
        // The old token works a few more minutes only: move the relay socket to the new one now.
        this.d.relay.connect('connecting');
      } catch (err) {
        if (err instanceof CloudCallError && err.kind === 'rejected' && refusesToken(err.cloudError)) {
          this.tokenRefused(err.cloudError);
          return;
        }
        this.d.log.warn({ err: (err as Error).message }, 'cloud token refresh failed; trying again later');
        this.scheduleTokenRefresh(Date.now() + this.d.options.tokenRefreshRetryMs);
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.ops.then(fn, fn);
    this.ops = p.catch(() => {});
    return p;
  }
}
