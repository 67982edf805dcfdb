// The node's link to its cloud: login (Noise handshake with a pinned cloud key + one-time code), the relay
// WebSocket (send the outbox in order, store deliveries and receipts in arrival order, ack them), the key
// directory (publish this node's devices, fetch everyone's), reconnects with jittered backoff, and one
// CloudLinkView for the desktop UI. docs/architecture.md "Cloud link (node side)" walks through it.
//
// Statuses: not_configured (no cloud URL), logged_out (URL but no usable token), awaiting_code (a code was
// sent; it goes to the person out of band), connecting (first attempt with a fresh token), connected (the
// cloud said hello), reconnecting (the link dropped; the next attempt is at next_attempt_at).
import type { Logger } from 'pino';
import type { KeyPair } from '../../../shared/crypto/noise/index.js';
import { PUBLISH_PAGE_SIZE, type CloudLinkStatus, type CloudLinkView, type CloudToNodeFrame, type DirectoryDevice, type PublishRefusal, type RelayRefusalCode } from '../../../shared/wire/relay.js';
import type { MessageStorePort, OutboundEnvelope } from '../messaging/relay-port.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { Backoff, backoffCeiling, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { CloudCallError, fetchDirectory, logoutToken, publishKeys, refreshToken, requestChallenge, verifyCode } from './cloud-api.js';
import { cloudHandshakeWithPin, CloudHandshakeError, type CloudNoiseSession } from './cloud-handshake.js';
import { CloudStateFile, type CloudState } from './cloud-state-file.js';
import { RelayConnection, type RelayDown } from './relay-connection.js';

export interface CloudLinkOptions {
  backoff: BackoffOptions;
  /** Most envelopes sent and not yet accepted/rejected. */
  window: number;
  /** How often the key directory is fetched again while connected (the cloud does not push changes). */
  directoryRefreshMs: number;
  /** Shortest gap between two fetches asked for on demand (requestDirectoryRefresh, unknown_recipient). */
  minDirectoryRefreshMs: number;
  pingIntervalMs: number;
  helloTimeoutMs: number;
  /** Gives up on a Noise handshake that takes longer. */
  handshakeTimeoutMs: number;
  /** After a failed token refresh (cloud unreachable, say), the next try. */
  tokenRefreshRetryMs: number;
  /**
   * Delays of our own retries while connected: publishing keys after a failed PUT, the resend of an envelope
   * the cloud refused as sender_not_published, and the directory fetch after a failed one.
   */
  retryBackoff: BackoffOptions;
  /** An envelope refused as sender_not_published this many times more (each after a publish) fails for good. */
  maxNotPublishedResends: number;
}

export const DEFAULT_CLOUD_LINK_OPTIONS: CloudLinkOptions = {
  backoff: DEFAULT_BACKOFF,
  window: 256,
  directoryRefreshMs: 10_000,
  minDirectoryRefreshMs: 1_000,
  pingIntervalMs: 30_000,
  helloTimeoutMs: 15_000,
  handshakeTimeoutMs: 15_000,
  tokenRefreshRetryMs: 5 * 60_000,
  retryBackoff: { baseMs: 1_000, capMs: 5 * 60_000, jitterFloor: 0.5 },
  maxNotPublishedResends: 5,
};

/** What an ack says the node did not store, and why (see RelayAckFrame). */
type Refusal = { device_ids: string[]; error: RelayRefusalCode };

/** What the desktop UI shows for a device the cloud would not publish. */
function refusalText(name: string, kind: string, code: string): string {
  const what = `${kind === 'phone' ? 'Phone' : 'Desktop'} "${name}"`;
  if (code === 'device_id_taken') return `${what} could not be published: its id is already used by another node.`;
  if (code === 'device_limit_reached') return `${what} could not be published: this node has reached the cloud's limit of devices.`;
  return `${what} could not be published (${code}).`;
}

/** A token of unknown age (from an older cloud.json) is assumed to live this long: the cloud's default. */
const ASSUMED_TOKEN_LIFETIME_MS = 12 * 60 * 60_000;

export interface CloudLinkDeps {
  dataDir: string;
  box: SecretBox;
  /** The node identity key: the node's Noise static key (and, base64url, its device_id) at the cloud. */
  staticKey: () => KeyPair;
  settings: { cloudUrl(): string | null; setCloudUrl(url: string | null): void };
  /** The message store; without one the link still logs in and connects, but relays nothing. */
  store?: MessageStorePort | undefined;
  log: Logger;
  /** Every change of the view (status, error, outbox size), coalesced per tick. */
  onChange?: (view: CloudLinkView) => void;
  options?: Partial<CloudLinkOptions> | undefined;
}

export type CloudLinkErrorCode = 'cloud_unreachable' | 'cloud_key_changed' | 'cloud_rejected' | 'cloud_login_not_started' | 'invalid_request';

export class CloudLinkError extends Error {
  constructor(public readonly code: CloudLinkErrorCode, message: string, public readonly cloudError?: string) {
    super(message);
    this.name = 'CloudLinkError';
  }
}

/** Codes of a refused token that mean "log in again" (docs/cloud.md §4). */
const TOKEN_DEAD = new Set(['token_missing', 'token_invalid', 'token_expired', 'token_revoked']);
/** Close code of a relay socket whose token stopped being valid; the reason is the code (src/cloud relay). */
const CLOSE_UNAUTHORIZED = 4401;
const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64url');

export function normalizeCloudUrl(url: string): string {
  let u: URL;
  try { u = new URL(url.trim()); } catch { throw new CloudLinkError('invalid_request', 'The cloud URL is not a URL.'); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CloudLinkError('invalid_request', 'The cloud URL must start with http:// or https://.');
  if (u.search || u.hash || u.username || u.password) throw new CloudLinkError('invalid_request', 'The cloud URL must be a plain base URL (no query, fragment or credentials).');
  return u.toString().replace(/\/+$/, '');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new CloudHandshakeError('connection_failed', `${what} took longer than ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}

interface PendingLogin {
  url: string;
  session: CloudNoiseSession;
  challengeId: string;
  expiresAt: string;
}

type ConnStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting';

export class CloudLink {
  private readonly opts: CloudLinkOptions;
  private readonly file: CloudStateFile;
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private state: CloudState | null = null;
  private pending: PendingLogin | null = null;
  private conn: RelayConnection | null = null;
  private connStatus: ConnStatus = 'idle';
  private lastError: CloudLinkView['last_error'] = null;
  private nextAttemptAt: string | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private directoryTimer: NodeJS.Timeout | undefined;
  private tokenTimer: NodeJS.Timeout | undefined;
  /** Outbox seq of the last envelope sent on this connection; in-flight ids -> their seq. */
  private sentUpTo = 0;
  private readonly inflight = new Map<string, number>();
  /**
   * Outbox rows read ahead (seq > sentUpTo, in order) and not sent yet, so that an `accepted` does not cost an
   * outbox query; `ahead[aheadAt]` is the next to send. `outboxDry`: the last read found nothing after them, and
   * nothing was queued since, so there is nothing to read.
   */
  private ahead: OutboundEnvelope[] = [];
  private aheadAt = 0;
  private outboxDry = false;
  /** Deliveries and receipts, handled strictly one after another in arrival order (across reconnects). */
  private chain: Promise<void> = Promise.resolve();
  /** Login, code and logout run one at a time. */
  private ops: Promise<unknown> = Promise.resolve();
  private publishing = false;
  private publishAgain = false;
  /** Retries (publish after a failed PUT, directory after a failed GET): exponential, reset on success. */
  private readonly publishBackoff: Backoff;
  private readonly directoryBackoff: Backoff;
  private publishRetryTimer: NodeJS.Timeout | undefined;
  private directoryNotBefore = 0;
  /** This node's devices the cloud refused at the last publish (device id -> why), shown in the view. */
  private unpublished = new Map<string, CloudLinkView['unpublished'][number]>();
  /**
   * Envelope id -> how often the cloud refused it as sender_not_published (each refusal is answered by a
   * publish and a resend after a growing delay, up to maxNotPublishedResends). resendFrom: the lowest outbox
   * seq waiting for that resend.
   */
  private readonly notPublishedRounds = new Map<string, number>();
  private resendTimer: NodeJS.Timeout | undefined;
  private resendFrom = Infinity;
  /** The key-directory fetch in flight, if any. */
  private directoryFetch: Promise<void> | undefined;
  /** Deliveries wait behind this while the directory is fetched for an unknown sender (see 'deliver'). */
  private inboundGate: Promise<void> = Promise.resolve();
  private lastRefreshAt = 0;
  private refreshSoon: NodeJS.Timeout | undefined;
  private cloudDeviceId: string | null = null;
  private stopped = false;
  private started = false;
  private emitScheduled = false;
  private lastEmitted = '';
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly d: CloudLinkDeps) {
    this.opts = { ...DEFAULT_CLOUD_LINK_OPTIONS, ...d.options };
    this.file = new CloudStateFile(d.dataDir, d.box);
    this.backoff = new Backoff(this.opts.backoff);
    this.publishBackoff = new Backoff(this.opts.retryBackoff);
    this.directoryBackoff = new Backoff(this.opts.retryBackoff);
    this.log = d.log;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------

  /** Reads cloud.json and connects if a token for the configured cloud is stored. Never throws. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const r = this.file.load();
    this.state = r.state;
    if (!r.ok) {
      this.setError('cloud_state_unreadable', `${r.reason}. The node is logged out of its cloud: log in again.`);
      this.log.error({ err: r.reason }, 'cloud state file unreadable; the cloud link is logged out');
    }
    const store = this.d.store;
    if (store) {
      this.unsubscribe.push(store.onQueued(() => { this.outboxDry = false; this.pump(); this.scheduleEmit(); }));
      this.unsubscribe.push(store.onLocalDevicesChanged(() => void this.syncKeys()));
    }
    const url = this.d.settings.cloudUrl();
    if (url && this.state?.url === url && this.state.token) this.connect('connecting');
    this.scheduleEmit();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    this.dropConnection();
    clearTimeout(this.retryTimer);
    clearTimeout(this.tokenTimer);
    await this.chain.catch(() => {});
  }

  // ---- what the UI sees ----------------------------------------------------------------------------------

  status(): CloudLinkStatus {
    if (this.livePending()) return 'awaiting_code';
    if (this.connStatus !== 'idle') return this.connStatus;
    return this.d.settings.cloudUrl() === null ? 'not_configured' : 'logged_out';
  }

  /** A cloud URL is set (messages can queue for it even while logged out). */
  configured(): boolean {
    return this.d.settings.cloudUrl() !== null;
  }

  view(): CloudLinkView {
    const pending = this.livePending();
    const status = this.status();
    const url = pending?.url ?? this.d.settings.cloudUrl() ?? this.state?.url ?? null;
    const hasToken = this.state?.token && this.state.url === url;
    let outbox = 0;
    try { outbox = this.d.store?.outboxSize() ?? 0; } catch { /* the store is closing */ }
    return {
      status,
      url,
      cloud_key: pending ? b64(pending.session.cloudStaticKey) : (this.state && this.state.url === url ? this.state.cloudKey : null),
      last_error: this.lastError,
      next_attempt_at: status === 'reconnecting' ? this.nextAttemptAt : null,
      token_expires_at: hasToken ? this.state!.tokenExpiresAt : null,
      outbox,
      unpublished: [...this.unpublished.values()],
    };
  }

  // ---- login -------------------------------------------------------------------------------------------

  /**
   * Handshake (IK with the key pinned for this URL, else NX) and a code request. Resolves in awaiting_code;
   * rejects with CloudLinkError (the link's state is otherwise unchanged: a running connection goes on).
   */
  login(url: string): Promise<CloudLinkView> {
    return this.serial(async () => {
      const clean = normalizeCloudUrl(url);
      await this.beginLogin(clean);
      this.lastError = null;
      this.scheduleEmit();
      return this.view();
    });
  }

  /** Verifies the code with the handshake's proof, stores the sealed token, connects. */
  submitCode(code: string): Promise<CloudLinkView> {
    return this.serial(async () => {
      const p = this.livePending();
      if (!p) throw new CloudLinkError('cloud_login_not_started', 'No cloud login is waiting for a code (none was started, or its code expired): log in first.');
      let tok: { token: string; expiresAt: string };
      try {
        tok = await verifyCode(p.url, {
          challenge_id: p.challengeId, code: code.trim(),
          noise_session_id: p.session.sessionId, noise_signature: p.session.signature, last_handshake_at: p.session.completedAt,
        });
      } catch (err) {
        if (!(err instanceof CloudCallError)) throw err;
        if (err.kind === 'unreachable') {
          this.setError('cloud_unreachable', err.message);
          throw new CloudLinkError('cloud_unreachable', err.message);
        }
        // A wrong code may be typed again; every other refusal (expired, used, too many tries, handshake
        // expired) needs a new login.
        if (err.cloudError !== 'otp_invalid') this.pending = null;
        this.setError(err.cloudError, err.message);
        throw new CloudLinkError('cloud_rejected', `The cloud refused the code: ${err.message}`, err.cloudError);
      }
      const old = this.state;
      this.state = { url: p.url, cloudKey: b64(p.session.cloudStaticKey), token: tok.token, tokenExpiresAt: tok.expiresAt, tokenIssuedAt: new Date().toISOString() };
      this.file.save(this.state);
      if (this.d.settings.cloudUrl() !== p.url) this.d.settings.setCloudUrl(p.url);
      this.pending = null;
      this.lastError = null;
      this.log.info({ url: p.url, pattern: p.session.pattern, expires_at: tok.expiresAt }, 'logged in to the cloud');
      if (old?.token && old.url !== p.url) void this.bestEffortLogout(old.url, old.token);
      this.dropConnection();
      this.backoff.reset();
      this.connect('connecting');
      return this.view();
    });
  }

  /** Revokes the token at the cloud (best effort) and forgets it; the URL and the pinned key stay. */
  logout(): Promise<CloudLinkView> {
    return this.serial(async () => {
      this.pending = null;
      const old = this.state;
      this.forgetToken();
      this.lastError = null;
      this.scheduleEmit();
      if (old?.token) await this.bestEffortLogout(old.url, old.token);
      this.log.info('logged out of the cloud');
      return this.view();
    });
  }

  /** The settings' cloud URL changed (PUT /api/admin/settings): a token for another cloud is dropped. */
  settingsChanged(): void {
    const url = this.d.settings.cloudUrl();
    if (this.state && this.state.url !== url && (this.state.token || this.connStatus !== 'idle')) {
      const old = this.state;
      this.forgetToken();
      if (old.token) void this.bestEffortLogout(old.url, old.token);
    }
    this.scheduleEmit();
  }

  private async beginLogin(url: string): Promise<void> {
    const pinned = this.state?.url === url ? this.state.cloudKey : undefined;
    const staticKey = this.d.staticKey();
    let session: CloudNoiseSession;
    try {
      session = await withTimeout(
        cloudHandshakeWithPin({ url, staticKey, pinnedCloudKey: pinned ? new Uint8Array(Buffer.from(pinned, 'base64url')) : undefined }),
        this.opts.handshakeTimeoutMs, 'the Noise handshake');
    } catch (err) {
      if (!(err instanceof CloudHandshakeError)) throw err;
      if (err.code === 'cloud_key_changed') {
        this.log.error({ url, pinned, err: err.message }, 'THE CLOUD\'S STATIC KEY CHANGED: login refused');
        this.setError('cloud_key_changed', `${err.message} The login was refused. If the cloud really got a new key, ask its operator why before trusting it.`);
        throw new CloudLinkError('cloud_key_changed', this.lastError!.message);
      }
      if (err.code === 'connection_failed') {
        this.setError('cloud_unreachable', err.message);
        throw new CloudLinkError('cloud_unreachable', err.message);
      }
      this.setError(err.serverError?.error ?? 'noise_handshake_failed', err.message);
      throw new CloudLinkError('cloud_rejected', `The cloud refused the handshake: ${err.message}`, err.serverError?.error ?? 'noise_handshake_failed');
    }
    let challenge: { challengeId: string; expiresAt: string };
    try {
      challenge = await requestChallenge(url, b64(staticKey.publicKey));
    } catch (err) {
      if (!(err instanceof CloudCallError)) throw err;
      if (err.kind === 'unreachable') {
        this.setError('cloud_unreachable', err.message);
        throw new CloudLinkError('cloud_unreachable', err.message);
      }
      this.setError(err.cloudError, err.message);
      throw new CloudLinkError('cloud_rejected', `The cloud refused to send a code: ${err.message}`, err.cloudError);
    }
    this.pending = { url, session, challengeId: challenge.challengeId, expiresAt: challenge.expiresAt };
    this.log.info({ url, pattern: session.pattern, challenge_id: challenge.challengeId }, 'cloud login started: a one-time code was sent');
  }

  /** The cloud wants a Noise-bound login (noise_handshake): handshake + new code, retried while unreachable. */
  private autoRelogin(): void {
    const url = this.state?.url;
    if (!url || this.stopped) return;
    void this.serial(async () => {
      if (this.stopped || this.state?.url !== url || this.state.token || this.livePending()?.url === url) return;
      try {
        await this.beginLogin(url);
        this.connStatus = 'idle';
        this.setError('noise_handshake', 'The cloud now requires a Noise-bound login: a new one-time code was requested. Enter it to reconnect.');
      } catch (err) {
        if (err instanceof CloudLinkError && err.code === 'cloud_unreachable') {
          this.connStatus = 'reconnecting';
          this.scheduleRetry(() => this.autoRelogin());
        } else {
          this.connStatus = 'idle';
        }
        this.scheduleEmit();
      }
    }).catch((err: Error) => this.log.warn({ err: err.message }, 'automatic cloud re-login failed'));
  }

  private async bestEffortLogout(url: string, token: string): Promise<void> {
    await Promise.race([
      logoutToken(url, token).catch((err: Error) => this.log.warn({ err: err.message }, 'cloud logout call failed (the token is forgotten here anyway)')),
      new Promise((r) => setTimeout(r, 3_000).unref()),
    ]);
  }

  private livePending(): PendingLogin | null {
    if (this.pending && Date.parse(this.pending.expiresAt) <= Date.now()) this.pending = null;
    return this.pending;
  }

  /** Stops the connection and forgets the token (memory and disk); keeps URL and pin. */
  private forgetToken(): void {
    this.dropConnection();
    this.connStatus = 'idle';
    // The refusals were the cloud's answer to this login's publish; the next login publishes afresh.
    this.unpublished.clear();
    if (this.state?.token) {
      this.state = { ...this.state, token: null, tokenExpiresAt: null };
      this.file.save(this.state);
    }
  }

  // ---- the relay connection ----------------------------------------------------------------------------

  private connect(kind: 'connecting' | 'reconnecting'): void {
    clearTimeout(this.retryTimer);
    if (this.stopped || !this.state?.token) return;
    const { url, token } = this.state;
    this.dropConnection();
    this.connStatus = kind;
    this.inflight.clear();
    this.sentUpTo = 0;
    this.forgetReadAhead();
    this.cloudDeviceId = null;
    const c: RelayConnection = new RelayConnection(url, token, {
      onOpen: () => {},
      onFrame: (f) => { if (c === this.conn) this.onFrame(c, f); },
      onBadFrame: (raw, problem) => { if (c === this.conn) this.onBadFrame(c, raw, problem); },
      onDown: (why) => { if (c === this.conn) this.onDown(why); },
    }, { pingIntervalMs: this.opts.pingIntervalMs, helloTimeoutMs: this.opts.helloTimeoutMs });
    this.conn = c;
    this.scheduleEmit();
  }

  private dropConnection(): void {
    const c = this.conn;
    this.conn = null;
    c?.close();
    clearInterval(this.directoryTimer);
    clearTimeout(this.tokenTimer);
    clearTimeout(this.refreshSoon);
    this.refreshSoon = undefined;
    // A new connection publishes and sends everything again anyway.
    clearTimeout(this.publishRetryTimer);
    this.publishRetryTimer = undefined;
    clearTimeout(this.resendTimer);
    this.resendTimer = undefined;
    this.resendFrom = Infinity;
    this.inflight.clear();
  }

  private onDown(why: RelayDown): void {
    this.dropConnection();
    if (this.stopped) return;
    // A refused upgrade (401 + x-cloud-error) and a socket the cloud closed with 4401 (reason = the code: the
    // token was revoked or expired under a live socket) both mean the token is dead.
    const refusal = why.kind === 'refused' && why.status === 401 ? why.error
      : why.kind === 'closed' && why.code === CLOSE_UNAUTHORIZED ? why.reason : undefined;
    if (refusal !== undefined && (TOKEN_DEAD.has(refusal) || refusal === 'noise_handshake')) {
      this.tokenRefused(refusal);
      return;
    }
    const message = why.kind === 'refused' ? `the cloud refused the relay connection (${why.status} ${why.error})`
      : why.kind === 'closed' ? `the connection to the cloud closed (${why.code}${why.reason ? ` ${why.reason}` : ''})`
        : `the connection to the cloud failed: ${why.message}`;
    this.log.warn({ why }, 'cloud relay connection down; reconnecting');
    this.setError(why.kind === 'refused' ? 'cloud_rejected' : 'cloud_unreachable', message);
    this.connStatus = 'reconnecting';
    this.scheduleRetry(() => this.connect('reconnecting'));
  }

  // ---- token refresh -------------------------------------------------------------------------------------

  /** While connected: refresh the token at half its life, so a running node never has to ask for a new code. */
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
      if (this.stopped || !s?.token || this.connStatus !== 'connected') return;
      try {
        const session = await withTimeout(
          cloudHandshakeWithPin({ url: s.url, staticKey: this.d.staticKey(), pinnedCloudKey: new Uint8Array(Buffer.from(s.cloudKey, 'base64url')) }),
          this.opts.handshakeTimeoutMs, 'the Noise handshake');
        const tok = await refreshToken(s.url, s.token, { noise_session_id: session.sessionId, noise_signature: session.signature, last_handshake_at: session.completedAt });
        if (this.state !== s) return; // logged out or in again meanwhile
        this.state = { ...s, token: tok.token, tokenExpiresAt: tok.expiresAt, tokenIssuedAt: new Date().toISOString() };
        this.file.save(this.state);
        this.log.info({ expires_at: tok.expiresAt }, 'cloud token refreshed');
        // The old token works a few more minutes only: move the relay socket to the new one now.
        this.connect('connecting');
      } catch (err) {
        if (err instanceof CloudCallError && err.kind === 'rejected' && (TOKEN_DEAD.has(err.cloudError) || err.cloudError === 'noise_handshake')) {
          this.tokenRefused(err.cloudError);
          return;
        }
        this.log.warn({ err: (err as Error).message }, 'cloud token refresh failed; trying again later');
        this.scheduleTokenRefresh(Date.now() + this.opts.tokenRefreshRetryMs);
      }
    });
  }

  /** The cloud refused the token (relay upgrade or a REST call). */
  private tokenRefused(code: string): void {
    this.forgetToken();
    if (code === 'noise_handshake') {
      this.log.warn('the cloud requires a Noise-bound login now; starting a new login');
      this.setError('noise_handshake', 'The cloud now requires a Noise-bound login: requesting a new one-time code.');
      this.autoRelogin();
      return;
    }
    this.log.warn({ code }, 'the cloud refused this node\'s token; logged out');
    this.setError(code, `The cloud refused this node's token (${code}): log in to the cloud again.`);
  }

  private scheduleRetry(fn: () => void): void {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.nextAttemptAt = new Date(Date.now() + delay).toISOString();
    this.retryTimer = setTimeout(fn, delay);
    this.retryTimer.unref();
    this.scheduleEmit();
  }

  private onFrame(c: RelayConnection, f: CloudToNodeFrame): void {
    const store = this.d.store;
    switch (f.type) {
      case 'hello':
        this.connStatus = 'connected';
        this.cloudDeviceId = f.device_id;
        this.nextAttemptAt = null;
        this.lastError = null;
        this.backoff.reset();
        this.log.info({ device_id: f.device_id, pending: f.pending }, 'connected to the cloud relay');
        clearInterval(this.directoryTimer);
        this.directoryTimer = setInterval(() => void this.refreshDirectory(), this.opts.directoryRefreshMs);
        this.directoryTimer.unref();
        this.scheduleTokenRefresh();
        this.scheduleEmit();
        // Publish first: the cloud refuses an envelope whose sender it has not seen published (a phone that
        // paired while we were offline). pump() waits while a publish runs and starts when it ends.
        void this.syncKeys();
        this.pump();
        return;
      case 'accepted':
        this.inflight.delete(f.id);
        this.guard('accepted', () => store?.accepted(f.id));
        this.pump();
        this.scheduleEmit();
        return;
      case 'rejected': {
        const seq = this.inflight.get(f.id);
        this.inflight.delete(f.id);
        let message = f.message;
        if (f.error === 'sender_not_published' && seq !== undefined) {
          const from = this.localSenderOf(seq, f.id);
          if (from !== undefined) {
            const verdict = this.senderNotPublished(f.id, seq, from);
            if (verdict === 'resend') return;
            message = verdict;
          }
        }
        this.notPublishedRounds.delete(f.id);
        this.log.warn({ id: f.id, error: f.error, message }, 'the cloud rejected an envelope');
        this.guard('rejected', () => store?.rejected(f.id, f.error, message));
        // The recipient may have been published since the last fetch: look again soon.
        if (f.error === 'unknown_recipient') this.requestDirectoryRefresh();
        this.pump();
        this.scheduleEmit();
        return;
      }
      case 'deliver': {
        // A sender this node has not seen in the directory yet (just paired at another home, or this node just
        // restarted): fetch the directory first, or the recipient could not open the envelope. Later deliveries
        // wait behind the same gate, so they still reach the store in arrival order.
        const sender = f.envelope.from_device;
        if (store?.knowsDevice && !store.knowsDevice(sender)) {
          this.inboundGate = this.inboundGate.then(() => this.learnSender(sender));
        }
        const gate = this.inboundGate;
        this.inOrder(c, f.seq, async () => {
          await gate;
          const r = store ? await store.storeInbound(f.envelope) : undefined;
          // Acked either way (the cloud's queue must drain), but with the refusal the sender learns it failed.
          return r && r.refused.length > 0 ? { device_ids: r.refused, error: 'recipient_backlog_full' } : undefined;
        });
        return;
      }
      case 'receipt': {
        // Behind the same gate as deliveries, so the store sees every frame in arrival order.
        const gate = this.inboundGate;
        this.inOrder(c, f.seq, async () => {
          await gate;
          if (f.error) await store?.refused?.(f.id, f.device_ids, f.error);
          else await store?.delivered(f.id, f.device_ids);
        });
        return;
      }
      case 'error':
        this.log.warn({ error: f.error, message: f.message }, 'the cloud could not take a frame');
        return;
    }
  }

  private onBadFrame(c: RelayConnection, raw: unknown, problem: string): void {
    const r = raw as { type?: unknown; seq?: unknown } | undefined;
    if ((r?.type === 'deliver' || r?.type === 'receipt') && Number.isSafeInteger(r.seq) && (r.seq as number) > 0) {
      // It can never become valid; not acking it would stall this node's queue at the cloud for good.
      this.log.error({ seq: r.seq, problem }, 'dropped a malformed delivery from the cloud');
      this.inOrder(c, r.seq as number, async () => {});
      return;
    }
    this.log.warn({ problem }, 'ignored a malformed frame from the cloud');
  }

  /**
   * Runs `work` after every earlier delivery, then acks `seq` on the connection it came from (if still up).
   * With a store that applies calls in call order (inboundInCallOrder), `work` starts at once instead of after
   * the previous one settled, so the deliveries of one turn share one commit; the acks still go out in arrival
   * order, each only after its own work is done.
   */
  private inOrder(c: RelayConnection, seq: number, work: () => Promise<Refusal | void>): void {
    const settle = async (done: Promise<Refusal | void>): Promise<void> => {
      let refused: Refusal | void;
      try {
        refused = await done;
      } catch (err) {
        // Not acked: the cloud delivers it again (after a reconnect at the latest).
        this.log.error({ seq, err: (err as Error).message }, 'could not store a delivery from the cloud; it will come again');
        return;
      }
      if (c === this.conn) c.send(refused ? { type: 'ack', seq, refused } : { type: 'ack', seq });
    };
    if (this.d.store?.inboundInCallOrder) {
      let started: Promise<Refusal | void>;
      try { started = work(); } catch (err) { started = Promise.reject(err); }
      started.catch(() => {}); // settled (and logged) in the chain
      this.chain = this.chain.then(() => settle(started));
      return;
    }
    this.chain = this.chain.then(() => settle(work()));
  }

  /** The sender of outbox row `seq` (envelope `id`) if it is a device this node publishes: one row read, not the outbox. */
  private localSenderOf(seq: number, id: string): string | undefined {
    const store = this.d.store;
    const [row] = store?.pendingOutbound(seq - 1, 1) ?? [];
    if (row?.id !== id) return undefined;
    const from = row.envelope.from_device;
    return store!.localDevices().some((d) => d.device_id === from) ? from : undefined;
  }

  /**
   * The cloud refused envelope `id` (outbox row `seq`, from our device `from`) as sender_not_published.
   * Usually our own key had not reached the directory yet: publish again and resend, after a delay that grows
   * with each refusal of the same envelope (the cloud keeps one copy per id, so resending the rest is harmless).
   * Answers 'resend', or the words the envelope fails with: its sender was refused by the cloud, or it was
   * refused too often. Never an immediate resend, so a cloud that keeps refusing costs a few rounds, not a loop.
   */
  private senderNotPublished(id: string, seq: number, from: string): 'resend' | string {
    const refusal = this.unpublished.get(from);
    if (refusal) return `${refusal.message} The cloud refused to publish this sender (${refusal.error}).`;
    const rounds = (this.notPublishedRounds.get(id) ?? 0) + 1;
    if (rounds > this.opts.maxNotPublishedResends) {
      this.notPublishedRounds.delete(id);
      return `the cloud still does not list the sender as published after ${rounds - 1} publishes and resends`;
    }
    if (this.notPublishedRounds.size >= 10_000) this.notPublishedRounds.clear(); // ids of envelopes accepted since
    this.notPublishedRounds.set(id, rounds);
    this.resendFrom = Math.min(this.resendFrom, seq);
    if (this.resendTimer) return 'resend';
    const delay = backoffCeiling(this.opts.retryBackoff, rounds - 1);
    this.log.info({ id, round: rounds, delay_ms: delay }, 'the cloud had not seen the sender published yet; publishing and resending');
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      const from = this.resendFrom;
      this.resendFrom = Infinity;
      this.sentUpTo = Math.min(this.sentUpTo, from - 1);
      this.forgetReadAhead();
      void this.syncKeys();
    }, delay);
    this.resendTimer.unref();
    return 'resend';
  }

  private forgetReadAhead(): void {
    this.ahead = [];
    this.aheadAt = 0;
    this.outboxDry = false;
  }

  /**
   * Sends outbox rows in order, keeping at most `window` in flight (none while our keys are being published).
   * Rows are read a window's worth at a time and kept in `ahead` until sent; an empty read marks the outbox dry
   * until something is queued, so answers from the cloud cost no query when there is nothing new.
   */
  private pump(): void {
    const store = this.d.store;
    const c = this.conn;
    if (!store || !c || this.connStatus !== 'connected' || this.publishing) return;
    try {
      while (this.inflight.size < this.opts.window) {
        if (this.aheadAt >= this.ahead.length) {
          if (this.outboxDry) return;
          const limit = this.opts.window;
          this.ahead = store.pendingOutbound(this.sentUpTo, limit);
          this.aheadAt = 0;
          if (this.ahead.length < limit) this.outboxDry = true;
          if (this.ahead.length === 0) return;
        }
        const r = this.ahead[this.aheadAt]!;
        const sent = r.json !== undefined ? c.sendText(`{"type":"send","envelope":${r.json}}`) : c.send({ type: 'send', envelope: r.envelope });
        if (!sent) return;
        this.aheadAt++;
        this.inflight.set(r.id, r.seq);
        this.sentUpTo = r.seq;
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not read the outbox');
    }
  }

  // ---- key directory -------------------------------------------------------------------------------------

  /**
   * PUT /api/keys with this node's devices (again if they changed meanwhile), then GET the directory. A failed
   * PUT is tried again after publishBackoff (a device change or a reconnect tries at once). Never rejects.
   */
  private async syncKeys(): Promise<void> {
    const store = this.d.store;
    if (!store || this.connStatus !== 'connected' || !this.state?.token) return;
    if (this.publishing) { this.publishAgain = true; return; }
    clearTimeout(this.publishRetryTimer);
    this.publishRetryTimer = undefined;
    this.publishing = true;
    try {
      do {
        this.publishAgain = false;
        const { url, token } = this.state;
        await this.publishAll(url, token, store.localDevices());
      } while (this.publishAgain && this.connStatus === 'connected' && this.state?.token);
      this.publishBackoff.reset();
    } catch (err) {
      this.restFailed('publishing keys', err);
      this.schedulePublishRetry();
    } finally {
      this.publishing = false;
    }
    this.pump();
    await this.refreshDirectory();
  }

  /**
   * Publishes `devices`: in one PUT, or, past a page, in pages of consecutive device-id ranges (so the cloud
   * replaces exactly the node's set). Each device is published or refused on its own; the refused are kept for
   * the view, and a sender_not_published for one of them fails its envelope instead of being resent.
   */
  private async publishAll(url: string, token: string, devices: DirectoryDevice[]): Promise<void> {
    const sorted = [...devices].sort((a, b) => (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0));
    const refused: PublishRefusal[] = [];
    if (sorted.length <= PUBLISH_PAGE_SIZE) {
      refused.push(...await publishKeys(url, token, sorted));
    } else {
      for (let i = 0; i < sorted.length; i += PUBLISH_PAGE_SIZE) {
        const page = sorted.slice(i, i + PUBLISH_PAGE_SIZE);
        const last = i + PUBLISH_PAGE_SIZE >= sorted.length;
        const range = { after: i === 0 ? null : sorted[i - 1]!.device_id, through: last ? null : page.at(-1)!.device_id };
        refused.push(...await publishKeys(url, token, page, range));
      }
    }
    const byId = new Map(devices.map((d) => [d.device_id, d]));
    const next = new Map<string, CloudLinkView['unpublished'][number]>();
    for (const r of refused) {
      const d = byId.get(r.device_id);
      if (d) next.set(d.device_id, { device_id: d.device_id, name: d.name, kind: d.kind, error: r.error, message: refusalText(d.name, d.kind, r.error) });
    }
    const changed = next.size !== this.unpublished.size || [...next].some(([id, r]) => this.unpublished.get(id)?.error !== r.error);
    this.unpublished = next;
    if (changed) {
      // Once per change, not per publish: a refusal lasts until the other node drops the id.
      if (next.size > 0) this.log.warn({ refused: refused.slice(0, 20), count: next.size }, 'the cloud refused to publish some of this node\'s devices');
      else this.log.info('the cloud publishes all of this node\'s devices');
      this.scheduleEmit();
    }
  }

  private schedulePublishRetry(): void {
    if (this.stopped || this.connStatus !== 'connected') return;
    clearTimeout(this.publishRetryTimer);
    this.publishRetryTimer = setTimeout(() => { this.publishRetryTimer = undefined; void this.syncKeys(); }, this.publishBackoff.next());
    this.publishRetryTimer.unref();
  }

  /**
   * Fetches the key directory soon (at most once per minDirectoryRefreshMs), e.g. when a device asks for the
   * directory and may be waiting for a device another home just published.
   */
  requestDirectoryRefresh(): void {
    if (this.connStatus !== 'connected' || this.refreshSoon) return;
    const wait = Math.max(0, this.lastRefreshAt + this.opts.minDirectoryRefreshMs - Date.now());
    this.refreshSoon = setTimeout(() => { this.refreshSoon = undefined; void this.refreshDirectory(); }, wait);
    this.refreshSoon.unref();
  }

  /** Fetches the directory until it has `deviceId` (twice at most: a fetch already in flight may predate it). */
  private async learnSender(deviceId: string): Promise<void> {
    for (let i = 0; i < 2 && !this.d.store?.knowsDevice?.(deviceId); i++) {
      await this.refreshDirectory();
    }
    if (!this.d.store?.knowsDevice?.(deviceId)) this.log.warn({ device_id: deviceId }, 'an envelope came from a device the key directory does not list');
  }

  /** Fetches the key directory; a call while a fetch is in flight gets that fetch. Never rejects. */
  private refreshDirectory(): Promise<void> {
    this.directoryFetch ??= this.fetchDirectoryNow().finally(() => { this.directoryFetch = undefined; });
    return this.directoryFetch;
  }

  private async fetchDirectoryNow(): Promise<void> {
    const store = this.d.store;
    if (!store || this.connStatus !== 'connected' || !this.state?.token) return;
    // After a failed fetch, every trigger (timer, unknown sender, requests) waits out directoryBackoff.
    if (Date.now() < this.directoryNotBefore) return;
    this.lastRefreshAt = Date.now();
    try {
      const entries = await fetchDirectory(this.state.url, this.state.token);
      const self = this.cloudDeviceId ?? b64(this.d.staticKey().publicKey);
      // Only other nodes' devices are "remote"; this node's own come from the store itself.
      store.setRemoteDirectory(entries.filter((e) => e.node !== self));
      this.directoryBackoff.reset();
      this.directoryNotBefore = 0;
    } catch (err) {
      this.directoryNotBefore = Date.now() + this.directoryBackoff.next();
      this.restFailed('fetching the key directory', err);
    }
  }

  private restFailed(what: string, err: unknown): void {
    if (err instanceof CloudCallError && err.status === 401 && (TOKEN_DEAD.has(err.cloudError) || err.cloudError === 'noise_handshake')) {
      if (this.state?.token) this.tokenRefused(err.cloudError);
      return;
    }
    const code = err instanceof CloudCallError ? err.cloudError : 'internal_error';
    const message = `${what} failed: ${(err as Error).message}`;
    if (this.lastError?.message !== message) this.log.warn({ code, err: (err as Error).message }, `${what} failed`);
    this.setError(code, message);
  }

  // ---- small helpers -------------------------------------------------------------------------------------

  private guard(what: string, fn: () => void): void {
    try { fn(); } catch (err) { this.log.error({ err: (err as Error).message }, `message store failed on ${what}`); }
  }

  private setError(code: string, message: string): void {
    this.lastError = { code, message, at: new Date().toISOString() };
    this.scheduleEmit();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.ops.then(fn, fn);
    this.ops = p.catch(() => {});
    return p;
  }

  private scheduleEmit(): void {
    if (this.emitScheduled || !this.d.onChange) return;
    this.emitScheduled = true;
    setImmediate(() => {
      this.emitScheduled = false;
      const view = this.view();
      const key = JSON.stringify(view);
      if (key === this.lastEmitted) return;
      this.lastEmitted = key;
      try { this.d.onChange?.(view); } catch (err) { this.log.warn({ err: (err as Error).message }, 'cloud view listener failed'); }
    });
  }
}
