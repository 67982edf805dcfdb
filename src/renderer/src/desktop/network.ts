// The "Network" panel: which interfaces this node has and which it advertises (the person can choose), the
// port and listen address, whether the port answers on each LAN address, mDNS, what happened on the last
// attempts to reach each paired desktop, and firewall hints. Fetched when opened, on "Refresh", and every
// 30 s while it stays open and visible (never faster than that: reachability checks cost the node requests).

import { byId, h, reconcile, relativeTime, setText } from '../common/dom.js';
import {
  type AdminApi,
  type AdminSettings,
  type AdminStateExtras,
  ApiFailure,
  type DiagnosticsInterface,
  type DiagnosticsPeer,
  type DiagnosticsResponse,
  type FirewallOs,
  type InterfaceKind,
} from './api.js';

const AUTO_REFRESH_MS = 30_000;

const KIND_LABEL: Record<InterfaceKind, string> = {
  lan: 'Local network',
  vpn: 'VPN',
  container: 'Containers / virtual machines',
  loopback: 'This machine only',
  'link-local': 'Link-local (no router)',
};

const OS_LABEL: Record<FirewallOs, string> = { linux: 'Linux', macos: 'macOS', windows: 'Windows' };

/** The person's OS for the firewall hints, from navigator.platform (userAgentData when there is one). */
export function currentOs(): FirewallOs {
  const nav = navigator as Navigator & { userAgentData?: { platform?: string } };
  const p = `${nav.userAgentData?.platform ?? ''} ${navigator.platform ?? ''}`;
  if (/mac|iphone|ipad/i.test(p)) return 'macos';
  if (/win/i.test(p)) return 'windows';
  return 'linux';
}

interface InterfaceGroup {
  name: string;
  kind: InterfaceKind | undefined;
  addresses: string[];
  advertised: boolean;
  present: boolean;
}

function groupInterfaces(
  list: readonly DiagnosticsInterface[],
  chosen: readonly string[] | null,
  missing: readonly string[] = [],
): InterfaceGroup[] {
  const byName = new Map<string, InterfaceGroup>();
  for (const i of list) {
    let g = byName.get(i.name);
    if (!g) {
      g = { name: i.name, kind: i.kind, addresses: [], advertised: false, present: true };
      byName.set(i.name, g);
    }
    g.addresses.push(i.address);
    g.advertised ||= i.advertised;
    if (g.kind === 'link-local') g.kind = i.kind; // an fe80:: address says little about what the interface is
  }
  // Chosen names that are not on this machine right now (a VPN that is down, a dock unplugged).
  for (const name of [...missing, ...(chosen ?? [])]) {
    if (!byName.has(name)) byName.set(name, { name, kind: undefined, addresses: [], advertised: true, present: false });
  }
  const order: Record<string, number> = { lan: 0, vpn: 1, container: 2, 'link-local': 3, loopback: 4 };
  return [...byName.values()].sort((a, b) => (order[a.kind ?? ''] ?? 5) - (order[b.kind ?? ''] ?? 5) || a.name.localeCompare(b.name));
}

export class NetworkPanel {
  private diag: DiagnosticsResponse | undefined;
  private settings: AdminSettings | undefined;
  /** false once the node answered 404: it predates the settings endpoint, so choices are read-only. */
  private settingsSupported = true;
  private loading: Promise<void> | undefined;
  private saving = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastLoadAt = 0;
  private fallbackLan: AdminStateExtras['lan_addresses'] = [];
  private kinds = new Map<string, 'desktop' | 'phone'>();

  constructor(
    private readonly api: () => AdminApi,
    private readonly showError: (err: unknown) => void,
  ) {
    byId('open-network').addEventListener('click', () => (this.isOpen ? this.close() : this.open()));
    byId('network-close').addEventListener('click', () => this.close());
    byId('network-refresh').addEventListener('click', () => void this.refresh());
    byId<HTMLInputElement>('network-auto').addEventListener('change', (e) => {
      const auto = (e.currentTarget as HTMLInputElement).checked;
      void this.save(auto ? null : this.advertisedNames());
    });
    byId<HTMLInputElement>('network-listen-advertised').addEventListener('change', (e) => {
      const listen = (e.currentTarget as HTMLInputElement).checked ? 'advertised' : 'all';
      void this.api()
        .call<AdminSettings>('PUT', '/api/admin/settings', { listen })
        .then((saved) => {
          this.settings = saved;
          return this.refresh();
        })
        .catch((err: unknown) => this.showError(err));
    });
    document.addEventListener('visibilitychange', () => {
      // Back to the window after a while: show fresh facts (but never more often than every 10 s).
      if (document.visibilityState === 'visible' && this.isOpen && Date.now() - this.lastLoadAt > 10_000) void this.refresh();
    });
  }

  get isOpen(): boolean {
    return !byId('network-panel').hidden;
  }

  /** LAN addresses from the admin state: shown when the node has no diagnostics endpoint. */
  setStateAddresses(list: AdminStateExtras['lan_addresses']): void {
    this.fallbackLan = list;
  }

  /** Which paired devices are phones (the node never calls a phone, so "not tried" means nothing for them). */
  setDeviceKinds(devices: readonly { node_id: string; kind: 'desktop' | 'phone' }[]): void {
    this.kinds = new Map(devices.map((d) => [d.node_id, d.kind]));
  }

  open(): void {
    byId('network-panel').hidden = false;
    byId('open-network').setAttribute('aria-expanded', 'true');
    byId('network-panel').scrollIntoView({ block: 'nearest' });
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.refresh();
    }, AUTO_REFRESH_MS);
    void this.refresh();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    byId('network-panel').hidden = true;
    byId('open-network').setAttribute('aria-expanded', 'false');
    byId('open-network').focus();
  }

  /** One load at a time: a second press while loading waits for the running one. */
  refresh(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load().finally(() => {
        this.loading = undefined;
      });
    }
    return this.loading;
  }

  private async load(): Promise<void> {
    const btn = byId<HTMLButtonElement>('network-refresh');
    btn.disabled = true;
    setText(byId('network-updated'), 'Checking…');
    this.lastLoadAt = Date.now();
    const get = async <T>(path: string): Promise<T> => this.api().call<T>('GET', path);
    const [diag, settings] = await Promise.allSettled([
      get<DiagnosticsResponse>('/api/node/diagnostics'),
      this.settingsSupported ? get<AdminSettings>('/api/admin/settings') : Promise.reject(new ApiFailure(404, 'not_found', '')),
    ]);
    btn.disabled = false;
    const unavailable = byId('network-unavailable');
    if (diag.status === 'fulfilled') {
      this.diag = diag.value;
      unavailable.hidden = true;
    } else {
      const e = diag.reason;
      this.diag = undefined;
      setText(
        unavailable,
        e instanceof ApiFailure && e.status === 404
          ? 'This node does not report network diagnostics (it may be an older version). The addresses below come from its state.'
          : `Could not load the diagnostics: ${e instanceof Error ? e.message : String(e)}`,
      );
      unavailable.hidden = false;
    }
    if (settings.status === 'fulfilled') this.settings = settings.value;
    else if (settings.reason instanceof ApiFailure && settings.reason.status === 404) {
      this.settingsSupported = false;
      this.settings = undefined;
    }
    setText(byId('network-updated'), `Checked at ${new Date().toLocaleTimeString()}`);
    this.render();
  }

  private advertisedNames(): string[] {
    if (!this.diag) return this.settings?.interfaces ?? [];
    return [...new Set(this.diag.interfaces.filter((i) => i.advertised).map((i) => i.name))];
  }

  private async save(interfaces: string[] | null): Promise<void> {
    if (this.saving) return;
    this.saving = true;
    this.setInputsDisabled(true);
    try {
      this.settings = await this.api().call<AdminSettings>('PUT', '/api/admin/settings', { interfaces });
      setText(
        byId('network-saved'),
        interfaces === null
          ? 'Saved: Salita advertises every local network and VPN interface.'
          : interfaces.length
            ? `Saved: Salita advertises ${interfaces.join(', ')}.`
            : 'Saved: Salita advertises no interface. Phones and other desktops can only pair by an address you type.',
      );
    } catch (err) {
      this.showError(err);
    } finally {
      this.saving = false;
    }
    // A load that started before the save would show the old choice: wait for it, then load again.
    await this.loading?.catch(() => undefined);
    await this.refresh();
  }

  private setInputsDisabled(disabled: boolean): void {
    for (const el of byId('network-panel').querySelectorAll<HTMLInputElement>('input[type="checkbox"]')) {
      el.disabled = disabled || !this.settingsSupported || el.dataset.fixed === 'true';
    }
  }

  private render(): void {
    const d = this.diag;
    const chosen = this.settings ? this.settings.interfaces : null;
    const auto = byId<HTMLInputElement>('network-auto');
    auto.checked = chosen === null;
    byId('network-choice').hidden = !this.settingsSupported;

    // Interfaces: one row per interface name, its addresses, its kind, and whether it is advertised.
    const groups = d
      ? groupInterfaces(d.interfaces, chosen, d.missing_interfaces)
      : groupInterfaces(
          this.fallbackLan.map((a) => ({
            name: a.interface,
            address: a.address,
            family: a.family,
            kind: a.kind ?? 'lan',
            advertised: a.advertised ?? true,
          })),
          null,
        );
    reconcile(
      byId('network-interfaces'),
      groups,
      (g) => g.name,
      (g) => this.interfaceRow(g),
      (row, g) => {
        const q = (role: string) => row.querySelector<HTMLElement>(`[data-role="${role}"]`)!;
        setText(q('kind'), g.present ? (g.kind ? KIND_LABEL[g.kind] : '') : 'Not present right now');
        setText(q('addresses'), g.addresses.join(', ') || 'no address');
        const box = q('advertised') as HTMLInputElement;
        box.checked = g.advertised;
        box.dataset.fixed = String(g.kind === 'loopback');
        row.dataset.kind = g.kind ?? 'absent';
        row.dataset.advertised = String(g.advertised);
      },
    );
    byId('network-interfaces-empty').hidden = groups.length > 0;
    this.setInputsDisabled(this.saving);

    // Listening: all interfaces, or only the advertised ones (applies at the next start).
    const listenBox = byId<HTMLInputElement>('network-listen-advertised');
    listenBox.hidden = !this.settingsSupported || this.settings?.listen === undefined;
    listenBox.checked = this.settings?.listen === 'advertised';
    byId('network-listen-pending').hidden = !d?.listen.pending_restart;

    // Port and listen address.
    const port = d?.port ?? null;
    setText(byId('network-port'), port === null ? '' : String(port));
    setText(
      byId('network-listen'),
      d
        ? `${d.listen.host === '0.0.0.0' || d.listen.host === '::' ? 'all interfaces' : d.listen.host}${d.listen.addresses.length ? ` (${d.listen.addresses.join(', ')})` : ''}`
        : 'unknown',
    );

    // Reachability of this node's own port on each address.
    const reach = d?.reachability ?? [];
    reconcile(
      byId('network-reachability'),
      reach,
      (r) => r.url,
      (r) =>
        h(
          'li',
          { class: 'row', 'data-testid': 'network-reach', 'data-address': r.address },
          h('span', { class: 'row-main' }, h('code', { 'data-role': 'url' }), h('span', { class: 'status', 'data-role': 'result' })),
        ),
      (row, r) => {
        setText(row.querySelector('[data-role="url"]')!, r.url);
        const res = row.querySelector<HTMLElement>('[data-role="result"]')!;
        res.dataset.status = r.ok ? 'online' : 'error';
        setText(res, r.ok ? 'reachable' : `not reachable: ${r.error ?? 'no answer'}`);
        row.dataset.ok = String(r.ok);
      },
    );
    byId('network-reachability-empty').hidden = reach.length > 0 || !d;

    // mDNS.
    const m = d?.mdns;
    const mdns = byId('network-mdns');
    mdns.dataset.state = !m ? 'unknown' : !m.enabled ? 'off' : m.running ? 'running' : 'stopped';
    setText(
      mdns,
      !m
        ? 'unknown'
        : !m.enabled
          ? 'Off: this node does not announce itself or look for other desktops. Pair by address instead.'
          : !m.running
            ? `Not running${m.last_error ? `: ${m.last_error}` : ''}. Other desktops cannot find this one by themselves; pair by address instead.`
            : `Running as "${m.instance_name ?? '?'}", announcing ${m.advertised_addresses.join(', ') || 'no address'}; ${m.discovered} other desktop${m.discovered === 1 ? '' : 's'} found.${m.last_error ? ` Last problem: ${m.last_error}` : ''}`,
    );

    // Paired desktops: the addresses tried on the last attempt to reach each, and what happened.
    const peers = d?.peers ?? [];
    reconcile(
      byId('network-peers'),
      peers,
      (p) => p.node_id,
      () =>
        h(
          'li',
          { class: 'row', 'data-testid': 'network-peer' },
          h(
            'span',
            { class: 'row-main' },
            h('span', { class: 'row-title', 'data-role': 'name' }),
            h('span', { class: 'status', 'data-role': 'status' }),
            h('span', { class: 'row-details', 'data-role': 'details' }),
            h('ul', { class: 'attempts', 'data-role': 'attempts' }),
          ),
        ),
      (row, p) => this.updatePeer(row, p),
    );
    byId('network-peers-empty').hidden = peers.length > 0 || !d;

    // Firewall hints: the person's own OS first, the others folded away.
    const hints = d?.firewall_hints ?? [];
    const mine = currentOs();
    const own = hints.filter((x) => x.os === mine);
    const others = hints.filter((x) => x.os !== mine);
    byId('network-firewall').replaceChildren(
      ...own.map((x) =>
        h('p', { 'data-testid': 'firewall-hint', 'data-os': x.os }, h('strong', {}, `${OS_LABEL[x.os] ?? x.os}: `), x.text),
      ),
      others.length
        ? h(
            'details',
            { 'data-testid': 'firewall-other' },
            h('summary', {}, own.length ? 'Other systems' : 'Firewall hints'),
            ...others.map((x) =>
              h('p', { 'data-testid': 'firewall-hint', 'data-os': x.os }, h('strong', {}, `${OS_LABEL[x.os] ?? x.os}: `), x.text),
            ),
          )
        : '',
    );
  }

  private interfaceRow(g: InterfaceGroup): HTMLLIElement {
    const id = `iface-${Math.random().toString(36).slice(2, 9)}`;
    const box = h('input', {
      type: 'checkbox',
      id,
      'data-testid': 'interface-advertised',
      'data-role': 'advertised',
      'data-interface': g.name,
    });
    box.addEventListener('change', () => {
      const on = new Set(this.advertisedNames());
      if (box.checked) on.add(g.name);
      else on.delete(g.name);
      // Keep names the person chose that are absent right now (they may come back).
      for (const n of this.settings?.interfaces ?? []) if (!this.diag?.interfaces.some((i) => i.name === n) && n !== g.name) on.add(n);
      void this.save([...on]);
    });
    return h(
      'li',
      { class: 'row iface', 'data-testid': 'network-interface', 'data-interface': g.name },
      h(
        'span',
        { class: 'row-main' },
        h('label', { for: id, class: 'row-title' }, box, ' ', g.name),
        h('span', { class: 'badge', 'data-role': 'kind' }),
        h('span', { class: 'row-details', 'data-role': 'addresses' }),
      ),
    );
  }

  private updatePeer(row: HTMLLIElement, p: DiagnosticsPeer): void {
    const q = (role: string) => row.querySelector<HTMLElement>(`[data-role="${role}"]`)!;
    row.dataset.nodeId = p.node_id;
    setText(q('name'), p.name);
    const st = q('status');
    st.dataset.status = p.status;
    setText(st, p.status === 'online' ? 'Online' : p.status === 'degraded' ? 'Degraded' : 'Offline');
    const bits = [`last seen ${relativeTime(p.last_seen)}`];
    if (p.addresses.length) bits.push(`known addresses ${p.addresses.join(', ')}`);
    const kind = this.kinds.get(p.node_id);
    if (kind) bits.unshift(kind === 'phone' ? 'Phone' : 'Desktop');
    if (p.last_attempt) bits.push(`last attempt ${relativeTime(p.last_attempt.at)}`);
    else if (kind === 'desktop') bits.push('not tried yet');
    setText(q('details'), bits.join(' · '));
    q('attempts').replaceChildren(
      ...(p.last_attempt?.tried ?? []).map((t) =>
        h(
          'li',
          { 'data-testid': 'network-attempt', 'data-ok': String(t.ok) },
          h('code', {}, t.address),
          ' → ',
          h('span', { class: 'status', 'data-status': t.ok ? 'online' : 'error' }, t.ok ? 'ok' : (t.error ?? 'failed')),
        ),
      ),
    );
  }
}
