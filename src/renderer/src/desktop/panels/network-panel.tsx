// The "Network" panel: which interfaces this node has and which it advertises (the person can choose), the port
// and listen address, whether the port answers on each advertised address, mDNS, what happened on the last
// attempts to reach each paired device, and firewall hints. Kept true without a Refresh button: loaded when it
// opens, after every state push that changes the devices or the addresses, after a settings change, and every
// few seconds while it is open and visible (loopback requests to this machine's own node: cheap).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { DiagnosticsResponse, InterfaceKind, LanAddressView, MeshNodeView } from '../../../../shared/wire/schemas.js';
import { relativeTime } from '../../common/dom.js';
import { useStore } from '../../common/store.js';
import { useNow } from '../../common/use-now.js';
import { useDesktop } from '../desktop-context.js';
import { NetworkFacts } from '../network-facts.js';

/** While open: how often the facts are asked for again (the node checks its own addresses on loopback). */
const POLL_MS = 5_000;

const KIND_LABEL: Record<InterfaceKind, string> = {
  lan: 'Local network',
  vpn: 'VPN',
  container: 'Containers / virtual machines',
  loopback: 'This machine only',
  'link-local': 'Link-local (no router)',
};

type FirewallOs = DiagnosticsResponse['firewall_hints'][number]['os'];
const OS_LABEL: Record<FirewallOs, string> = { linux: 'Linux', macos: 'macOS', windows: 'Windows' };
const STATUS_LABEL = { online: 'Online', degraded: 'Degraded', offline: 'Offline' } as const;

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

type InterfaceRow = DiagnosticsResponse['interfaces'][number];

function groupInterfaces(list: readonly InterfaceRow[], missing: readonly string[]): InterfaceGroup[] {
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
  for (const name of missing) {
    if (!byName.has(name)) byName.set(name, { name, kind: undefined, addresses: [], advertised: true, present: false });
  }
  const order: Record<string, number> = { lan: 0, vpn: 1, container: 2, 'link-local': 3, loopback: 4 };
  return [...byName.values()].sort((a, b) => (order[a.kind ?? ''] ?? 5) - (order[b.kind ?? ''] ?? 5) || a.name.localeCompare(b.name));
}

const fromState = (list: readonly LanAddressView[]): InterfaceRow[] =>
  list.map((a) => ({ name: a.interface, address: a.address, family: a.family, kind: a.kind, advertised: a.advertised }));

function mdnsText(m: DiagnosticsResponse['mdns'] | undefined): string {
  if (!m) return 'unknown';
  if (!m.enabled) return 'Off: this node does not announce itself or look for other desktops. Pair by address instead.';
  if (!m.running)
    return `Not running${m.last_error ? `: ${m.last_error}` : ''}. Other desktops cannot find this one by themselves; pair by address instead.`;
  return `Running as "${m.instance_name ?? '?'}", announcing ${m.advertised_addresses.join(', ') || 'no address'}; ${m.discovered} other desktop${m.discovered === 1 ? '' : 's'} found.${m.last_error ? ` Last problem: ${m.last_error}` : ''}`;
}

function savedText(interfaces: readonly string[] | null): string {
  if (interfaces === null) return 'Saved: Salita advertises every local network and VPN interface.';
  if (interfaces.length) return `Saved: Salita advertises ${interfaces.join(', ')}.`;
  return 'Saved: Salita advertises no interface. Phones and other desktops can only pair by an address you type.';
}

/** What of the pushed state the panel shows (or what changes its diagnostics): a change means "load again". */
function devicesKey(devices: readonly MeshNodeView[] | undefined): string {
  return JSON.stringify(devices?.map((d) => [d.node_id, d.name, d.kind, d.status, d.last_seen]) ?? null);
}

function Hint({ os, text }: { os: FirewallOs; text: string }) {
  return (
    <p data-testid="firewall-hint" data-os={os}>
      <strong>{`${OS_LABEL[os] ?? os}: `}</strong>
      {text}
    </p>
  );
}

type Peer = DiagnosticsResponse['peers'][number];

function PeerRow({ p, device, now }: { p: Peer; device: MeshNodeView | undefined; now: number }) {
  // The pushed state is newer than the last diagnostics for name, presence and last seen.
  const name = device?.name ?? p.name;
  const status = device?.status ?? p.status;
  const lastSeen = device?.last_seen ?? p.last_seen;
  const bits = [`last seen ${relativeTime(lastSeen, now)}`];
  if (p.addresses.length) bits.push(`known addresses ${p.addresses.join(', ')}`);
  if (device) bits.unshift(device.kind === 'phone' ? 'Phone' : 'Desktop');
  if (p.last_attempt) bits.push(`last attempt ${relativeTime(p.last_attempt.at, now)}`);
  // The node never calls a phone, so "not tried" means nothing for one.
  else if (device?.kind === 'desktop') bits.push('not tried yet');
  return (
    <li class="row" data-testid="network-peer" data-node-id={p.node_id}>
      <span class="row-main">
        <span class="row-title">{name}</span>
        <span class="status" data-status={status}>
          {STATUS_LABEL[status]}
        </span>
        <span class="row-details">{bits.join(' · ')}</span>
        <ul class="attempts">
          {(p.last_attempt?.tried ?? []).map((t) => (
            <li key={t.address} data-testid="network-attempt" data-ok={String(t.ok)}>
              <code>{t.address}</code> →{' '}
              <span class="status" data-status={t.ok ? 'online' : 'error'}>
                {t.ok ? 'ok' : (t.error ?? 'failed')}
              </span>
            </li>
          ))}
        </ul>
      </span>
    </li>
  );
}

export function NetworkPanel({ onClose }: { onClose: () => void }) {
  const desktop = useDesktop();
  const [facts] = useState(() => new NetworkFacts(desktop.client));
  const { loaded, diag, diagProblem, settings, settingsSupported, checkedAt } = useStore(facts.store, (s) => s);
  const lan = useStore(desktop.store, (s) => s.admin?.lan_addresses);
  const devices = useStore(desktop.store, (s) => s.admin?.devices);
  /** The interface choice being saved, shown at once (null: automatic); undefined when nothing is saving. */
  const [pending, setPending] = useState<readonly string[] | null | undefined>(undefined);
  const [saved, setSaved] = useState('');
  /** The listen choice being saved, shown at once. */
  const [pendingListen, setPendingListen] = useState<'all' | 'advertised' | undefined>(undefined);
  const now = useNow(30_000);
  const section = useRef<HTMLElement>(null);

  // Opened: bring it into view. Closed (unmounted): stop asking.
  useEffect(() => {
    section.current?.scrollIntoView({ block: 'nearest' });
    const tick = setInterval(() => {
      if (document.visibilityState === 'visible') void facts.reload();
    }, POLL_MS);
    const onVisible = () => {
      if (document.visibilityState === 'visible') void facts.reload();
    };
    document.addEventListener('visibilitychange', onVisible);
    const offResync = desktop.resynced.on(() => {
      facts.forgetUnsupported();
      void facts.reload();
    });
    return () => {
      clearInterval(tick);
      document.removeEventListener('visibilitychange', onVisible);
      offResync();
      facts.stop();
    };
  }, [facts]);

  // On open, and whenever a push changed the devices or the addresses (a pairing, a heartbeat, a new interface).
  const lanKey = JSON.stringify(lan ?? null);
  const devKey = devicesKey(devices);
  useEffect(() => {
    void facts.reload();
  }, [facts, lanKey, devKey]);

  const close = () => {
    onClose();
    // Back to the toggle that opened it (keyboard users stay where they were).
    queueMicrotask(() => document.querySelector<HTMLButtonElement>('[aria-controls="network-panel"]')?.focus());
  };

  const chosen = settings ? settings.interfaces : null;
  const shownChoice = pending !== undefined ? pending : chosen;
  const groups = groupInterfaces(
    diag ? diag.interfaces : fromState(lan ?? []),
    diag ? [...diag.missing_interfaces, ...(chosen ?? [])] : [],
  );
  // While a choice is saving, the boxes show it (the node's answer and the reload follow).
  const advertisedNow = (g: InterfaceGroup) =>
    pending === undefined ? g.advertised : pending === null ? g.kind === 'lan' || g.kind === 'vpn' : pending.includes(g.name);
  const editable = settingsSupported && settings !== undefined && pending === undefined;

  const saveInterfaces = (interfaces: string[] | null) => {
    if (pending !== undefined) return;
    setPending(interfaces);
    facts
      .save({ interfaces })
      .then(
        (s) => {
          setSaved(savedText(s.interfaces));
          desktop.clearError();
        },
        (err) => desktop.showError(err),
      )
      .finally(() => setPending(undefined));
  };

  const toggle = (g: InterfaceGroup, on: boolean) => {
    const names = new Set(groups.filter((x) => x.present && x.advertised).map((x) => x.name));
    if (on) names.add(g.name);
    else names.delete(g.name);
    // Keep names the person chose that are absent right now (they may come back).
    for (const n of chosen ?? []) if (n !== g.name && !groups.some((x) => x.name === n && x.present)) names.add(n);
    saveInterfaces([...names]);
  };

  const saveListen = (listen: 'all' | 'advertised') => {
    if (pendingListen !== undefined) return;
    setPendingListen(listen);
    facts
      .save({ listen })
      .then(
        () => desktop.clearError(),
        (err) => desktop.showError(err),
      )
      .finally(() => setPendingListen(undefined));
  };

  const reach = diag?.reachability ?? [];
  const peers = diag?.peers ?? [];
  const hints = diag?.firewall_hints ?? [];
  const mine = currentOs();
  const own = hints.filter((x) => x.os === mine);
  const others = hints.filter((x) => x.os !== mine);
  const m = diag?.mdns;
  const listenHost = diag ? (diag.listen.host === '0.0.0.0' || diag.listen.host === '::' ? 'all interfaces' : diag.listen.host) : '';
  const byId = new Map((devices ?? []).map((d) => [d.node_id, d]));

  return (
    <section ref={section} aria-labelledby="network-heading" class="card" id="network-panel" data-testid="network-panel">
      <div class="card-head">
        <h2 id="network-heading">Network</h2>
        <span class="actions">
          <button type="button" data-testid="network-refresh" class="secondary" onClick={() => void facts.reload()}>
            Check again
          </button>
          <button type="button" class="secondary" onClick={close}>
            Close
          </button>
        </span>
      </div>
      {/* Not a live region: it changes every few seconds. */}
      <p data-testid="network-updated" class="hint">
        {checkedAt === undefined ? 'Checking…' : `Checked at ${new Date(checkedAt).toLocaleTimeString()} · kept up to date while open`}
      </p>
      {diagProblem && (
        <p data-testid="network-unavailable" class="hint">
          {diagProblem}
        </p>
      )}
      {loaded && (
        <>
          <h3>Interfaces</h3>
          <p class="hint">Phones and other desktops are told about the checked interfaces (QR code links, mDNS).</p>
          {settingsSupported && (
            <div>
              <label class="check">
                <input
                  type="checkbox"
                  data-testid="network-auto"
                  checked={shownChoice === null}
                  disabled={!editable}
                  onChange={(e) =>
                    saveInterfaces(e.currentTarget.checked ? null : groups.filter((g) => g.present && g.advertised).map((g) => g.name))
                  }
                />{' '}
                Automatic: every local network and VPN interface
              </label>
            </div>
          )}
          <ul data-testid="network-interfaces" class="rows">
            {groups.map((g) => {
              const id = `iface-${g.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
              const on = advertisedNow(g);
              return (
                <li
                  key={g.name}
                  class="row iface"
                  data-testid="network-interface"
                  data-interface={g.name}
                  data-kind={g.kind ?? 'absent'}
                  data-advertised={String(on)}
                >
                  <span class="row-main">
                    <label for={id} class="row-title">
                      <input
                        type="checkbox"
                        id={id}
                        data-testid="interface-advertised"
                        data-interface={g.name}
                        checked={on}
                        disabled={!editable || g.kind === 'loopback'}
                        onChange={(e) => toggle(g, e.currentTarget.checked)}
                      />{' '}
                      {g.name}
                    </label>
                    <span class="badge">{g.present ? (g.kind ? KIND_LABEL[g.kind] : '') : 'Not present right now'}</span>
                    <span class="row-details">{g.addresses.join(', ') || 'no address'}</span>
                  </span>
                </li>
              );
            })}
          </ul>
          {groups.length === 0 && <p class="empty">No network interface found.</p>}
          <p data-testid="network-saved" class="hint" role="status">
            {saved}
          </p>

          <h3>Port</h3>
          <p class="facts">
            Port <strong data-testid="network-port">{diag ? String(diag.port) : ''}</strong> · listening on{' '}
            <span data-testid="network-listen">
              {diag ? `${listenHost}${diag.listen.addresses.length ? ` (${diag.listen.addresses.join(', ')})` : ''}` : 'unknown'}
            </span>
          </p>
          {settingsSupported && settings?.listen !== undefined && (
            <label class="check">
              <input
                type="checkbox"
                data-testid="network-listen-advertised"
                checked={(pendingListen ?? settings.listen) === 'advertised'}
                disabled={pendingListen !== undefined}
                onChange={(e) => saveListen(e.currentTarget.checked ? 'advertised' : 'all')}
              />{' '}
              Accept connections only on the interfaces above (and this machine), from the next start
            </label>
          )}
          {diag?.listen.pending_restart && (
            <p data-testid="network-listen-pending" class="hint">
              Restart Salita to apply the new listening choice.
            </p>
          )}
          <h4>Reachable from this machine</h4>
          <ul data-testid="network-reachability" class="rows">
            {reach.map((r) => (
              <li key={r.url} class="row" data-testid="network-reach" data-address={r.address} data-ok={String(r.ok)}>
                <span class="row-main">
                  <code>{r.url}</code>
                  <span class="status" data-status={r.ok ? 'online' : 'error'}>
                    {r.ok ? 'reachable' : `not reachable: ${r.error ?? 'no answer'}`}
                  </span>
                </span>
              </li>
            ))}
          </ul>
          {diag && reach.length === 0 && <p class="empty">No advertised address to check.</p>}

          <h3>mDNS (finding other desktops)</h3>
          <p data-testid="network-mdns" data-state={!m ? 'unknown' : !m.enabled ? 'off' : m.running ? 'running' : 'stopped'}>
            {mdnsText(m)}
          </p>

          <h3>Paired devices</h3>
          <p class="hint">This desktop calls the other desktops every 30 s; each call tries their known addresses in turn.</p>
          <ul data-testid="network-peers" class="rows">
            {peers.map((p) => (
              <PeerRow key={p.node_id} p={p} device={byId.get(p.node_id)} now={now} />
            ))}
          </ul>
          {diag && peers.length === 0 && <p class="empty">No paired device.</p>}

          <h3>Firewall</h3>
          <div id="network-firewall" data-testid="network-firewall">
            {own.map((x) => (
              <Hint key={`${x.os}:${x.text}`} os={x.os} text={x.text} />
            ))}
            {others.length > 0 && (
              <details data-testid="firewall-other">
                <summary>{own.length ? 'Other systems' : 'Firewall hints'}</summary>
                {others.map((x) => (
                  <Hint key={`${x.os}:${x.text}`} os={x.os} text={x.text} />
                ))}
              </details>
            )}
          </div>
        </>
      )}
    </section>
  );
}
