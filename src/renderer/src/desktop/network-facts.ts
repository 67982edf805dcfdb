// What the Network panel shows that the admin state does not carry: the node's diagnostics (reachability, mDNS,
// heartbeat attempts, firewall hints) and its settings. Loaded one request pair at a time: a reload asked for
// while one runs is done right after it (so the last word is always a fresh answer), and an answer that left the
// node before a settings change landed is dropped instead of showing the old choice for a moment.
import { type ApiClient, ApiFailure } from '../../../shared/client/api-client.js';
import { NODE_ENDPOINTS } from '../../../shared/wire/node-endpoints.js';
import type { DiagnosticsResponse, NodeSettings, SettingsUpdateRequest } from '../../../shared/wire/schemas.js';
import { Store } from '../common/store.js';

export interface NetworkFactsState {
  /** false until the first answers came (the panel says "Checking…" instead of half a picture). */
  loaded: boolean;
  diag: DiagnosticsResponse | undefined;
  /** Why there are no diagnostics (an older node, or the request failed), in words. */
  diagProblem: string | undefined;
  settings: NodeSettings | undefined;
  /** false once the node answered 404: it predates the settings endpoint, so the choices are read-only. */
  settingsSupported: boolean;
  checkedAt: number | undefined;
}

const isNotFound = (e: unknown) => e instanceof ApiFailure && e.status === 404;

export class NetworkFacts {
  readonly store = new Store<NetworkFactsState>({
    loaded: false,
    diag: undefined,
    diagProblem: undefined,
    settings: undefined,
    settingsSupported: true,
    checkedAt: undefined,
  });
  private running: Promise<void> | undefined;
  private again = false;
  /** Bumped around every settings change: a load that saw a bump meanwhile may hold the old facts. */
  private epoch = 0;
  private diagSupported = true;
  private stopped = false;

  constructor(private readonly client: ApiClient) {}

  /** Loads now, or right after the load under way (never two at once, never a queue of them). */
  reload(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The node may have been replaced (the socket came back): ask for what an older node lacked again. */
  forgetUnsupported(): void {
    this.diagSupported = true;
    if (!this.store.get().settingsSupported) this.store.set({ settingsSupported: true });
  }

  /** Saves a settings change; the facts are loaded again (the node applies it at once). */
  async save(patch: SettingsUpdateRequest): Promise<NodeSettings> {
    this.epoch++;
    try {
      const saved = await this.client.call(NODE_ENDPOINTS.updateAdminSettings, { body: patch });
      if (!this.stopped) this.store.set({ settings: saved });
      return saved;
    } finally {
      this.epoch++;
      await this.reload();
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.loadOnce();
    } while (this.again && !this.stopped);
  }

  private async loadOnce(): Promise<void> {
    const epoch = this.epoch;
    const askSettings = this.store.get().settingsSupported;
    const [diag, settings] = await Promise.allSettled([
      this.diagSupported ? this.client.call(NODE_ENDPOINTS.nodeDiagnostics) : Promise.reject(new ApiFailure(404, 'not_found', '')),
      askSettings ? this.client.call(NODE_ENDPOINTS.adminSettings) : Promise.reject(new ApiFailure(404, 'not_found', '')),
    ]);
    if (this.stopped) return;
    if (epoch !== this.epoch) {
      this.again = true; // a settings change crossed this load: ask once more
      return;
    }
    const next: Partial<NetworkFactsState> = { loaded: true, checkedAt: Date.now() };
    if (diag.status === 'fulfilled') {
      next.diag = diag.value;
      next.diagProblem = undefined;
    } else {
      const e: unknown = diag.reason;
      next.diag = undefined;
      if (isNotFound(e)) this.diagSupported = false;
      next.diagProblem = isNotFound(e)
        ? 'This node does not report network diagnostics (it may be an older version). The addresses below come from its state.'
        : `Could not load the diagnostics: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (settings.status === 'fulfilled') next.settings = settings.value;
    else if (isNotFound(settings.reason)) {
      next.settingsSupported = false;
      next.settings = undefined;
    } // another failure keeps the settings last seen (the diagnostics line says what went wrong)
    this.store.set(next);
  }
}
