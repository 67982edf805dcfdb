// The node's link to its cloud, as node.ts, the HTTP routes and the desktop UI see it: one object with one
// status and one CloudLinkView. It is made of small parts (docs/architecture.md "Cloud link (node side)"):
// - cloud-session.ts: login (Noise handshake with a pinned cloud key + one-time code), logout, token refresh,
//   the sealed token in cloud.json;
// - cloud-relay-transport.ts: the cloud transport: the relay WebSocket with reconnects, the outbox pump
//   (cloud-outbox-pump.ts) and inbound deliveries/receipts in arrival order (cloud-inbound-order.ts);
// - cloud-directory.ts: publishing this node's devices and fetching the cloud's key directory;
// - cloud-account.ts: the account's household (its nodes), removing one, signing out everywhere;
// - key-log-audit.ts: every directory read checked against the cloud's key log, and heads the home's other
//   nodes saw (gossip), with an alarm that stays until the person resets it.
// This file wires them, connects them to the message store (MessageStorePort) and composes the view.
//
// Statuses: not_configured (no cloud URL), logged_out (URL but no usable token), awaiting_code (a code was
// sent; it goes to the person out of band), awaiting_browser (a passkey or provider sign-in waits in the
// browser), connecting (first attempt with a fresh token), connected (the
// cloud said hello), reconnecting (the link dropped; the next attempt is at next_attempt_at).
import type { Logger } from 'pino';
import type { KeyPair } from '../../../shared/crypto/noise/index.js';
import type { KeyLogHead } from '../../../shared/transparency/key-log.js';
import type { ExternalMethodsResponse } from '../../../shared/wire/external-login.js';
import type { CloudLinkStatus, CloudLinkView, DirectoryEntry } from '../../../shared/wire/relay.js';
import type { MessageStorePort } from '../messaging/relay-port.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { CloudAccount } from './cloud-account.js';
import {
  CloudCallError,
  fetchExternalMethods,
  fetchKeyLogConsistency,
  fetchKeyLogHashes,
  fetchKeyLogLeaves,
  fetchKeyLogProofs,
} from './cloud-api.js';
import { CloudDirectory } from './cloud-directory.js';
import { type CloudLinkOptions, DEFAULT_CLOUD_LINK_OPTIONS } from './cloud-link-options.js';
import type { CloudLinkReport } from './cloud-link-report.js';
import { CloudRelayTransport } from './cloud-relay-transport.js';
import { b64, CloudLinkError, CloudSession, normalizeCloudUrl } from './cloud-session.js';
import { type KeyLogApi, KeyLogAuditor } from './key-log-audit.js';
import { KeyLogStateFile } from './key-log-state-file.js';

export { type CloudLinkOptions, DEFAULT_CLOUD_LINK_OPTIONS } from './cloud-link-options.js';
export { CloudLinkError, type CloudLinkErrorCode, normalizeCloudUrl } from './cloud-session.js';

export interface CloudLinkDeps {
  dataDir: string;
  box: SecretBox;
  /** The node identity key: the node's Noise static key (and, base64url, its device_id) at the cloud. */
  staticKey: () => KeyPair;
  /** The node's display name (the cloud's log names a login code by it). */
  nodeName?: () => string;
  settings: { cloudUrl(): string | null; setCloudUrl(url: string | null): void };
  /** The message store; without one the link still logs in and connects, but relays nothing. */
  store?: MessageStorePort | undefined;
  log: Logger;
  /** Every change of the view (status, error, outbox size), coalesced per tick. */
  onChange?: (view: CloudLinkView) => void;
  options?: Partial<CloudLinkOptions> | undefined;
  /** The older ids each of our devices replaced when re-paired (told to the cloud's key directory). */
  replacements?: () => ReadonlyMap<string, readonly string[]>;
}

export class CloudLink {
  /** The cloud transport (a router's view of the cloud path: isUp, onChange, wake). */
  readonly transport: CloudRelayTransport;
  private readonly session: CloudSession;
  /** The account this node is logged in to (its household), for the Cloud panel. */
  readonly account: CloudAccount;
  private readonly directory: CloudDirectory;
  private readonly keyLog: KeyLogAuditor;
  /** Peers whose gossiped head is being checked now, and the head each had checked last. */
  private readonly gossipChecks = new Set<string>();
  private readonly gossipSeen = new Map<string, string>();
  private readonly log: Logger;
  private lastError: CloudLinkView['last_error'] = null;
  private started = false;
  private emitScheduled = false;
  private lastEmitted = '';
  private readonly unsubscribe: (() => void)[] = [];
  /** Who hears that the relay said hello, and that a blob for our devices is ready (the blob transport). */
  private readonly relayListeners = new Set<(e: { type: 'connected' } | { type: 'blob_ready'; sha256: string }) => void>();

  constructor(private readonly d: CloudLinkDeps) {
    const opts: CloudLinkOptions = { ...DEFAULT_CLOUD_LINK_OPTIONS, ...d.options };
    this.log = d.log;
    const report: CloudLinkReport = {
      changed: () => this.scheduleEmit(),
      setError: (code, message) => this.setError(code, message),
      clearError: () => {
        this.lastError = null;
      },
      lastError: () => this.lastError,
    };
    this.session = new CloudSession({
      dataDir: d.dataDir,
      box: d.box,
      staticKey: d.staticKey,
      nodeName: d.nodeName,
      settings: d.settings,
      log: d.log,
      options: opts,
      report,
      relay: {
        phase: () => this.transport.phase(),
        connect: (kind) => this.transport.connect(kind),
        disconnect: () => this.transport.disconnect(),
        setIdle: () => this.transport.setIdle(),
        retryLater: (fn) => this.transport.retryLater(fn),
        resetBackoff: () => this.transport.resetBackoff(),
      },
      tokenForgotten: () => this.directory.forget(),
    });
    this.keyLog = new KeyLogAuditor({
      state: new KeyLogStateFile(d.dataDir, d.log),
      log: d.log,
      alarmed: (alarm) => report.setError(alarm.code, alarm.message),
    });
    this.account = new CloudAccount({
      credentials: () => this.session.credentials(),
      tokenRefused: (code) => this.session.tokenRefused(code),
    });
    this.directory = new CloudDirectory({
      store: d.store,
      log: d.log,
      options: opts,
      report,
      credentials: () => this.session.credentials(),
      isUp: () => this.transport.isUp(),
      selfId: () => this.transport.cloudDeviceId() ?? b64(d.staticKey().publicKey),
      published: () => this.transport.resume(),
      tokenRefused: (code) => this.session.tokenRefused(code),
      ...(d.replacements ? { replacements: d.replacements } : {}),
      checkDirectory: (creds, entries, final) => this.checkDirectory(creds, entries, final),
    });
    this.transport = new CloudRelayTransport({
      store: d.store,
      log: d.log,
      options: opts,
      report,
      credentials: () => this.session.credentials(),
      tokenRefused: (code) => this.session.tokenRefused(code),
      connected: () => {
        this.session.connected();
        this.directory.connected();
        this.relayEvent({ type: 'connected' });
      },
      blobReady: (sha256) => this.relayEvent({ type: 'blob_ready', sha256 }),
      dropped: () => {
        this.session.dropped();
        this.directory.dropped();
      },
      sendsHeld: () => this.directory.publishing,
      refusalOf: (id) => this.directory.refusalOf(id),
      republish: () => void this.directory.syncKeys(),
      refreshDirectorySoon: () => this.directory.requestRefresh(),
      learnSender: (id) => this.directory.learnSender(id),
    });
  }

  /** The relay said hello (a new connection), or the cloud pushed blob_ready. */
  onRelayEvent(fn: (e: { type: 'connected' } | { type: 'blob_ready'; sha256: string }) => void): () => void {
    this.relayListeners.add(fn);
    return () => this.relayListeners.delete(fn);
  }

  /** A REST call beside the relay was refused for its token: the link logs in again, as for its own calls. */
  tokenRefused(code: string): void {
    this.session.tokenRefused(code);
  }

  /** The cloud URL and this node's current token (null while logged out): for REST calls beside the relay. */
  credentials(): { url: string; token: string } | null {
    return this.session.credentials();
  }

  private relayEvent(e: { type: 'connected' } | { type: 'blob_ready'; sha256: string }): void {
    for (const fn of [...this.relayListeners]) {
      try {
        fn(e);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'a relay listener failed');
      }
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------

  /** Reads cloud.json and connects if a token for the configured cloud is stored. Never throws. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.session.start();
    const store = this.d.store;
    if (store) {
      this.unsubscribe.push(
        store.onQueued(() => {
          this.transport.wake();
          this.scheduleEmit();
        }),
      );
      this.unsubscribe.push(store.onLocalDevicesChanged(() => void this.directory.syncKeys()));
    }
    if (this.session.hasTokenFor(this.d.settings.cloudUrl())) this.transport.connect('connecting');
    this.scheduleEmit();
  }

  async stop(): Promise<void> {
    this.session.stop();
    this.directory.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    await this.transport.stop();
  }

  // ---- what the UI sees ----------------------------------------------------------------------------------

  status(): CloudLinkStatus {
    if (this.session.livePending()) return 'awaiting_code';
    if (this.session.awaitingBrowser()) return 'awaiting_browser';
    const phase = this.transport.phase();
    if (phase !== 'idle') return phase;
    return this.d.settings.cloudUrl() === null ? 'not_configured' : 'logged_out';
  }

  /** A cloud URL is set (messages can queue for it even while logged out). */
  configured(): boolean {
    return this.d.settings.cloudUrl() !== null;
  }

  view(): CloudLinkView {
    const pending = this.session.livePending();
    const status = this.status();
    const state = this.session.current();
    const url = pending?.url ?? this.d.settings.cloudUrl() ?? state?.url ?? null;
    const hasToken = state?.token && state.url === url;
    let outbox = 0;
    try {
      outbox = this.d.store?.outboxSize() ?? 0;
    } catch {
      /* the store is closing */
    }
    return {
      status,
      url,
      cloud_key: pending ? b64(pending.session.cloudStaticKey) : state && state.url === url ? state.cloudKey : null,
      last_error: this.lastError,
      next_attempt_at: status === 'reconnecting' ? this.transport.nextAttemptAt() : null,
      token_expires_at: hasToken ? state!.tokenExpiresAt : null,
      email: pending ? pending.email : state && state.url === url ? (state.email ?? null) : null,
      outbox,
      unpublished: this.directory.unpublishedDevices(),
      key_log: this.keyLog.view(this.pinnedCloudKey()),
      external: this.session.external(),
    };
  }

  // ---- the key log -----------------------------------------------------------------------------------------

  /** The cloud key pinned for the configured cloud (the key its key log heads are signed with). */
  private pinnedCloudKey(): string | null {
    const state = this.session.current();
    return state && state.url === this.d.settings.cloudUrl() ? state.cloudKey : null;
  }

  private keyLogApi(creds: { url: string; token: string }): KeyLogApi {
    const { url, token } = creds;
    return {
      proofs: (ids) => fetchKeyLogProofs(url, token, ids),
      hashes: (from, to) => fetchKeyLogHashes(url, token, from, to),
      leaves: (indices) => fetchKeyLogLeaves(url, token, indices),
      consistency: (from, to) => fetchKeyLogConsistency(url, token, from, to),
    };
  }

  private async checkDirectory(
    creds: { url: string; token: string },
    entries: readonly DirectoryEntry[],
    final: boolean,
  ): Promise<'apply' | 'refused' | 'retry'> {
    const cloudKey = this.pinnedCloudKey();
    if (!cloudKey) return 'refused';
    const outcome = await this.keyLog.audit(
      {
        api: this.keyLogApi(creds),
        cloudKey,
        self: this.transport.cloudDeviceId() ?? b64(this.d.staticKey().publicKey),
        own: this.d.store?.localDevices() ?? [],
      },
      entries,
      { final },
    );
    // The view's key_log may have changed (verified, a new size, an alarm); an unchanged view is not emitted.
    this.scheduleEmit();
    return outcome === 'retry' ? 'retry' : outcome === 'alarm' ? 'refused' : 'apply';
  }

  /** The head this node verified last at its cloud, for the home's other nodes (null: none yet, or logged out). */
  keyLogHead(): { cloudKey: string; head: KeyLogHead } | null {
    const cloudKey = this.pinnedCloudKey();
    const head = cloudKey ? this.keyLog.keptHead(cloudKey) : null;
    return cloudKey && head ? { cloudKey, head } : null;
  }

  /** Hears every head this node newly verified (passed on to the home's other nodes). */
  onKeyLogHead(fn: (cloudKey: string, head: KeyLogHead) => void): () => void {
    return this.keyLog.onKept(fn);
  }

  /** A head another node of the home saw at `cloudKey`: checked against ours when it is our cloud's. */
  async keyLogHeadFromPeer(from: string, cloudKey: string, head: KeyLogHead): Promise<void> {
    const creds = this.session.credentials();
    if (!creds || cloudKey !== this.pinnedCloudKey()) return;
    // One check per peer at a time, and none again for the head it checked last: a chatty peer costs no calls.
    const seen = `${head.size}:${head.root}`;
    if (this.gossipChecks.has(from) || this.gossipSeen.get(from) === seen) return;
    this.gossipChecks.add(from);
    try {
      await this.keyLog.checkGossip({ api: this.keyLogApi(creds), cloudKey }, head, from);
      this.gossipSeen.set(from, seen);
    } catch (err) {
      this.log.debug({ err: (err as Error).message, from }, "checking a peer's key log head failed");
    } finally {
      this.gossipChecks.delete(from);
    }
    this.scheduleEmit();
  }

  /** The person trusts the cloud's key log again: the alarm goes, and the next read starts a new history. */
  resetKeyLog(): CloudLinkView {
    const cloudKey = this.pinnedCloudKey();
    if (cloudKey) this.keyLog.reset(cloudKey);
    this.gossipSeen.clear();
    if (this.lastError?.code.startsWith('key_log_')) this.lastError = null;
    this.directory.requestRefresh();
    this.scheduleEmit();
    return this.view();
  }

  // ---- login -------------------------------------------------------------------------------------------

  /**
   * Handshake (IK with the key pinned for this URL, else NX) and a code request. Resolves in awaiting_code;
   * rejects with CloudLinkError (the link's state is otherwise unchanged: a running connection goes on).
   */
  login(url: string, email: string | null = null): Promise<CloudLinkView> {
    return this.session.login(url, email).then(() => this.view());
  }

  /** Verifies the code with the handshake's proof, stores the sealed token, connects. */
  submitCode(code: string): Promise<CloudLinkView> {
    return this.session.submitCode(code).then(() => this.view());
  }

  /** Starts a sign-in in the browser (a passkey, or the OpenID provider): resolves in awaiting_browser. */
  loginExternal(url: string, method: 'passkey' | 'oidc'): Promise<CloudLinkView> {
    return this.session.loginExternal(url, method).then(() => this.view());
  }

  /** A signed-in node adds a passkey to its account, in the browser. */
  addPasskey(): Promise<CloudLinkView> {
    return this.session.addPasskey().then(() => this.view());
  }

  /** Which browser sign-ins the cloud at `url` offers (for the Cloud panel's buttons). */
  async externalMethods(url: string): Promise<ExternalMethodsResponse> {
    const clean = normalizeCloudUrl(url);
    try {
      return await fetchExternalMethods(clean);
    } catch (err) {
      if (err instanceof CloudCallError && err.status === 404) return { passkey: false, oidc: null }; // an older cloud
      if (err instanceof CloudCallError && err.kind === 'unreachable') throw new CloudLinkError('cloud_unreachable', err.message);
      throw new CloudLinkError('cloud_rejected', (err as Error).message, err instanceof CloudCallError ? err.cloudError : undefined);
    }
  }

  /** Revokes the token at the cloud (best effort) and forgets it; the URL and the pinned key stay. */
  logout(): Promise<CloudLinkView> {
    return this.session.logout().then(() => this.view());
  }

  /** The settings' cloud URL changed (PUT /api/admin/settings): a token for another cloud is dropped. */
  settingsChanged(): void {
    this.session.settingsChanged();
  }

  /**
   * Fetches the key directory soon (at most once per minDirectoryRefreshMs), e.g. when a device asks for the
   * directory and may be waiting for a device another home just published.
   */
  requestDirectoryRefresh(): void {
    this.directory.requestRefresh();
  }

  // ---- the view ------------------------------------------------------------------------------------------

  private setError(code: string, message: string): void {
    this.lastError = { code, message, at: new Date().toISOString() };
    this.scheduleEmit();
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
      try {
        this.d.onChange?.(view);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cloud view listener failed');
      }
    });
  }
}
