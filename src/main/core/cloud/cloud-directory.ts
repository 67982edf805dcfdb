// The cloud's key directory, seen from this node: publish the store's local devices (PUT /api/keys, in pages of
// device-id ranges past PUBLISH_PAGE_SIZE), keep the devices the cloud refused to publish (shown in the view,
// and a sender_not_published for one of them fails instead of being resent), and fetch everyone's keys
// (GET /api/keys) into the store's remote directory: every directoryRefreshMs while connected, soon on demand,
// and before storing an envelope from a sender it does not know yet; each read is checked against the cloud's key
// log first (key-log-audit.ts). Failed calls wait out retryBackoff.
import type { Logger } from 'pino';
import {
  type CloudLinkView,
  type DirectoryDevice,
  type DirectoryEntry,
  PUBLISH_PAGE_SIZE,
  type PublishRefusal,
} from '../../../shared/wire/relay.js';
import type { MessageStorePort } from '../messaging/relay-port.js';
import { Backoff } from './backoff.js';
import { CloudCallError, fetchDirectory, fetchReplacements, publishKeys, publishReplacements } from './cloud-api.js';
import type { CloudLinkOptions } from './cloud-link-options.js';
import type { CloudLinkReport } from './cloud-link-report.js';
import { refusesToken } from './token-refusal.js';

export type UnpublishedDevice = CloudLinkView['unpublished'][number];

/** What the desktop UI shows for a device the cloud would not publish. */
function refusalText(name: string, kind: string, code: PublishRefusal['error']): string {
  const what = `${kind === 'phone' ? 'Phone' : 'Desktop'} "${name}"`;
  if (code === 'device_id_taken') return `${what} could not be published: its id is already used by another node.`;
  if (code === 'device_limit_reached') return `${what} could not be published: this node has reached the cloud's limit of devices.`;
  return `${what} could not be published (${code}).`;
}

export interface CloudDirectoryDeps {
  store?: MessageStorePort | undefined;
  log: Logger;
  options: Pick<CloudLinkOptions, 'directoryRefreshMs' | 'minDirectoryRefreshMs' | 'retryBackoff'>;
  /** The URL and token to call the cloud with; null while logged out. */
  credentials(): { url: string; token: string } | null;
  /** The relay is connected (calls are made only then). */
  isUp(): boolean;
  /** This node's own device id at the cloud (its entries are not "remote"). */
  selfId(): string;
  /** A publish ended: the outbox may be sent again (sends wait while a publish runs). */
  published(): void;
  /** A REST call was refused for the token. */
  tokenRefused(code: string): void;
  report: CloudLinkReport;
  /** The older ids each of our devices replaced when re-paired (published, so other homes see the change). */
  replacements?(): ReadonlyMap<string, readonly string[]>;
  /**
   * Checks a directory read against the cloud's key log (key-log-audit.ts) before the store takes it: 'refused'
   * leaves the store with the last directory that passed; 'retry' asks for one more read (the directory changed
   * under the check), checked as `final`. Rejects when a call fails (retried like the read).
   */
  checkDirectory?(
    creds: { url: string; token: string },
    entries: readonly DirectoryEntry[],
    final: boolean,
  ): Promise<'apply' | 'refused' | 'retry'>;
}

export class CloudDirectory {
  private publishingNow = false;
  private publishAgain = false;
  /** Retries (publish after a failed PUT, directory after a failed GET): exponential, reset on success. */
  private readonly publishBackoff: Backoff;
  private readonly directoryBackoff: Backoff;
  private publishRetryTimer: NodeJS.Timeout | undefined;
  private directoryTimer: NodeJS.Timeout | undefined;
  private directoryNotBefore = 0;
  /** This node's devices the cloud refused at the last publish (device id -> why), shown in the view. */
  private unpublished = new Map<string, UnpublishedDevice>();
  /** The key-directory fetch in flight, if any. */
  private directoryFetch: Promise<void> | undefined;
  private lastRefreshAt = 0;
  private refreshSoon: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The cloud answered 404 to the replaced-ids routes (an older cloud): not asked again until the next login. */
  private replacementsUnknown = false;

  constructor(private readonly d: CloudDirectoryDeps) {
    this.publishBackoff = new Backoff(d.options.retryBackoff);
    this.directoryBackoff = new Backoff(d.options.retryBackoff);
  }

  stop(): void {
    this.stopped = true;
  }

  /** A publish is running (the cloud would refuse envelopes from devices it has not seen published yet). */
  get publishing(): boolean {
    return this.publishingNow;
  }

  /** The devices the cloud refused at the last publish, for the view. */
  unpublishedDevices(): UnpublishedDevice[] {
    return [...this.unpublished.values()];
  }

  /** Why the cloud refused to publish our device `deviceId`, if it did. */
  refusalOf(deviceId: string): UnpublishedDevice | undefined {
    return this.unpublished.get(deviceId);
  }

  /** The refusals were the cloud's answer to this login's publish; the next login publishes afresh. */
  forget(): void {
    this.unpublished.clear();
    this.replacementsUnknown = false;
  }

  /** The relay said hello: fetch the directory on a timer, and publish (then fetch) now. */
  connected(): void {
    clearInterval(this.directoryTimer);
    this.directoryTimer = setInterval(() => void this.refreshDirectory(), this.d.options.directoryRefreshMs);
    this.directoryTimer.unref();
    void this.syncKeys();
  }

  /** The relay connection went: a new connection publishes and fetches again anyway. */
  dropped(): void {
    clearInterval(this.directoryTimer);
    clearTimeout(this.refreshSoon);
    this.refreshSoon = undefined;
    clearTimeout(this.publishRetryTimer);
    this.publishRetryTimer = undefined;
  }

  /**
   * PUT /api/keys with this node's devices (again if they changed meanwhile), then GET the directory. A failed
   * PUT is tried again after publishBackoff (a device change or a reconnect tries at once). Never rejects.
   */
  async syncKeys(): Promise<void> {
    const store = this.d.store;
    if (!store || !this.d.isUp() || !this.d.credentials()) return;
    if (this.publishingNow) {
      this.publishAgain = true;
      return;
    }
    clearTimeout(this.publishRetryTimer);
    this.publishRetryTimer = undefined;
    this.publishingNow = true;
    try {
      let creds = this.d.credentials();
      do {
        this.publishAgain = false;
        const { url, token } = creds!;
        const devices = store.localDevices();
        await this.publishAll(url, token, devices);
        await this.publishReplacedIds(url, token, devices);
        if (!this.publishAgain || !this.d.isUp()) break;
        creds = this.d.credentials();
      } while (creds);
      this.publishBackoff.reset();
    } catch (err) {
      this.restFailed('publishing keys', err);
      this.schedulePublishRetry();
    } finally {
      this.publishingNow = false;
    }
    this.d.published();
    await this.refreshDirectory();
  }

  /**
   * Fetches the key directory soon (at most once per minDirectoryRefreshMs), e.g. when a device asks for the
   * directory and may be waiting for a device another home just published.
   */
  requestRefresh(): void {
    if (!this.d.isUp() || this.refreshSoon) return;
    const wait = Math.max(0, this.lastRefreshAt + this.d.options.minDirectoryRefreshMs - Date.now());
    this.refreshSoon = setTimeout(() => {
      this.refreshSoon = undefined;
      void this.refreshDirectory();
    }, wait);
    this.refreshSoon.unref();
  }

  /** Fetches the directory until it has `deviceId` (twice at most: a fetch already in flight may predate it). */
  async learnSender(deviceId: string): Promise<void> {
    for (let i = 0; i < 2 && !this.d.store?.knowsDevice?.(deviceId); i++) {
      await this.refreshDirectory();
    }
    if (!this.d.store?.knowsDevice?.(deviceId))
      this.d.log.warn({ device_id: deviceId }, 'an envelope came from a device the key directory does not list');
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
      refused.push(...(await publishKeys(url, token, sorted)));
    } else {
      for (let i = 0; i < sorted.length; i += PUBLISH_PAGE_SIZE) {
        const page = sorted.slice(i, i + PUBLISH_PAGE_SIZE);
        const last = i + PUBLISH_PAGE_SIZE >= sorted.length;
        const range = { after: i === 0 ? null : sorted[i - 1]!.device_id, through: last ? null : page.at(-1)!.device_id };
        refused.push(...(await publishKeys(url, token, page, range)));
      }
    }
    const byId = new Map(devices.map((d) => [d.device_id, d]));
    const next = new Map<string, UnpublishedDevice>();
    for (const r of refused) {
      const d = byId.get(r.device_id);
      if (d)
        next.set(d.device_id, {
          device_id: d.device_id,
          name: d.name,
          kind: d.kind,
          error: r.error,
          message: refusalText(d.name, d.kind, r.error),
        });
    }
    const changed = next.size !== this.unpublished.size || [...next].some(([id, r]) => this.unpublished.get(id)?.error !== r.error);
    this.unpublished = next;
    if (changed) {
      // Once per change, not per publish: a refusal lasts until the other node drops the id.
      if (next.size > 0)
        this.d.log.warn({ refused: refused.slice(0, 20), count: next.size }, "the cloud refused to publish some of this node's devices");
      else this.d.log.info("the cloud publishes all of this node's devices");
      this.d.report.changed();
    }
  }

  /** PUT /api/keys/replacements for our published devices; a cloud that does not know the route is left be. */
  private async publishReplacedIds(url: string, token: string, devices: readonly DirectoryDevice[]): Promise<void> {
    const replaced = this.d.replacements?.();
    if (!replaced || this.replacementsUnknown) return;
    const list = devices.flatMap((d) => {
      const ids = replaced.get(d.device_id);
      return ids?.length ? [{ device_id: d.device_id, replaces: [...ids] }] : [];
    });
    try {
      await publishReplacements(url, token, list);
    } catch (err) {
      if (!this.olderCloud(err)) throw err;
    }
  }

  /** A 404 from a replaced-ids route: this cloud predates them (remembered until the next login). */
  private olderCloud(err: unknown): boolean {
    if (!(err instanceof CloudCallError && err.status === 404)) return false;
    if (!this.replacementsUnknown)
      this.d.log.info('the cloud does not keep replaced device ids (an older cloud): other homes see a re-paired device as new');
    this.replacementsUnknown = true;
    return true;
  }

  /** Everyone's replaced ids by device, or none when the cloud does not keep them (or the read failed). */
  private async replacedIds(url: string, token: string): Promise<Map<string, string[]>> {
    if (this.replacementsUnknown) return new Map();
    try {
      return new Map((await fetchReplacements(url, token)).map((r) => [r.device_id, r.replaces]));
    } catch (err) {
      if (!this.olderCloud(err)) this.d.log.debug({ err: (err as Error).message }, 'reading replaced device ids failed');
      return new Map();
    }
  }

  private schedulePublishRetry(): void {
    if (this.stopped || !this.d.isUp()) return;
    clearTimeout(this.publishRetryTimer);
    this.publishRetryTimer = setTimeout(() => {
      this.publishRetryTimer = undefined;
      void this.syncKeys();
    }, this.publishBackoff.next());
    this.publishRetryTimer.unref();
  }

  /** Fetches the key directory; a call while a fetch is in flight gets that fetch. Never rejects. */
  private refreshDirectory(): Promise<void> {
    this.directoryFetch ??= this.fetchDirectoryNow().finally(() => {
      this.directoryFetch = undefined;
    });
    return this.directoryFetch;
  }

  private async fetchDirectoryNow(): Promise<void> {
    const store = this.d.store;
    const creds = this.d.credentials();
    if (!store || !this.d.isUp() || !creds) return;
    // After a failed fetch, every trigger (timer, unknown sender, requests) waits out directoryBackoff.
    if (Date.now() < this.directoryNotBefore) return;
    this.lastRefreshAt = Date.now();
    try {
      let entries = await fetchDirectory(creds.url, creds.token);
      if (this.d.checkDirectory) {
        let verdict = await this.d.checkDirectory(creds, entries, false);
        if (verdict === 'retry') {
          entries = await fetchDirectory(creds.url, creds.token);
          verdict = await this.d.checkDirectory(creds, entries, true);
        }
        if (verdict !== 'apply') return;
      }
      const replaced = await this.replacedIds(creds.url, creds.token);
      const self = this.d.selfId();
      // Only other nodes' devices are "remote"; this node's own come from the store itself.
      store.setRemoteDirectory(
        entries
          .filter((e) => e.node !== self)
          .map((e) => {
            const replaces = replaced.get(e.device_id);
            return replaces ? { ...e, replaces } : e;
          }),
      );
      this.directoryBackoff.reset();
      this.directoryNotBefore = 0;
    } catch (err) {
      if (this.stopped) return; // the node is stopping: its store closed under the read
      this.directoryNotBefore = Date.now() + this.directoryBackoff.next();
      this.restFailed('fetching the key directory', err);
    }
  }

  private restFailed(what: string, err: unknown): void {
    if (err instanceof CloudCallError && err.status === 401 && refusesToken(err.cloudError)) {
      if (this.d.credentials()) this.d.tokenRefused(err.cloudError);
      return;
    }
    const code = err instanceof CloudCallError ? err.cloudError : 'internal_error';
    const message = `${what} failed: ${(err as Error).message}`;
    if (this.d.report.lastError()?.message !== message) this.d.log.warn({ code, err: (err as Error).message }, `${what} failed`);
    this.d.report.setError(code, message);
  }
}
