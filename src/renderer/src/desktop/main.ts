// The desktop UI: this node's identity, "Connect device" (QR + PIN), the live list of paired devices,
// nearby desktops found by mDNS, and pairings waiting for a person's confirmation. Talks to the node only
// through the admin API (api.ts); the view follows the state the node pushes over the admin WebSocket.
import '../common/no-eval.js';
import type {
  AdminEvent,
  AdminState,
  DiscoveredNodeView,
  MeshNodeView,
  PairRemoteResponse,
  PairStartResponse,
  PendingPairingView,
} from '../../../shared/wire/schemas.js';
import { byId, groupDigits, h, reconcile, relativeTime, setText } from '../common/dom.js';
import type { MessagesView } from '../common/messages-view.js';
import {
  AdminApi,
  AdminSocket,
  type AdminStateExtras,
  ApiFailure,
  acquireAdminToken,
  type Presence,
  type SocketStatus,
  type UiNotice,
} from './api.js';
import { CloudPanel } from './cloud.js';
import { normalizeLinkingCodeInput, parseManualTarget } from './manual-pair.js';
import { startDesktopMessaging } from './messaging.js';
import { NetworkPanel } from './network.js';

let api: AdminApi;
let socket: AdminSocket | undefined;
let state: AdminState | undefined;
const network = new NetworkPanel(() => api, showError);
const cloud = new CloudPanel(
  () => api,
  () => state?.identity,
);
let messages: MessagesView | undefined;

// ---- errors ---------------------------------------------------------------------------------------------

function messageOf(err: unknown): string {
  if (err instanceof ApiFailure) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

function showError(err: unknown): void {
  setText(byId('error-text'), messageOf(err));
  byId('error-banner').hidden = false;
}

function clearError(): void {
  byId('error-banner').hidden = true;
}

byId('error-dismiss').addEventListener('click', clearError);

// ---- identity + rename ----------------------------------------------------------------------------------

let renaming = false;

function renderIdentity(s: AdminState): void {
  setText(byId('node-name'), s.identity.name);
  setText(byId('node-fingerprint'), s.identity.fingerprint);
  document.title = `Salita: ${s.identity.name}`;
  // Only what other devices are told about (older nodes do not say: then every LAN address).
  const offered = (s as AdminState & AdminStateExtras).lan_addresses.filter((a) => a.advertised !== false);
  setText(
    byId('lan-addresses'),
    offered.length
      ? `Port ${s.port} · reachable on ${[...new Set(offered.map((a) => a.address))].join(', ')}`
      : s.lan_addresses.length
        ? `Port ${s.port} · no interface is advertised: phones can only pair by an address you give them (see Network).`
        : `Port ${s.port} · no LAN address found: phones cannot reach this node right now.`,
  );
}

function openRename(): void {
  if (!state) return;
  renaming = true;
  const input = byId<HTMLInputElement>('rename-input');
  input.value = state.identity.name;
  byId('name-heading').hidden = true;
  byId('rename-form').hidden = false;
  input.focus();
  input.select();
}

function closeRename(): void {
  renaming = false;
  byId('rename-form').hidden = true;
  byId('name-heading').hidden = false;
  byId('rename-button').focus();
}

byId('rename-button').addEventListener('click', openRename);
byId('node-name').addEventListener('dblclick', openRename);
byId('rename-cancel').addEventListener('click', closeRename);
byId('rename-input').addEventListener('keydown', (e) => {
  if ((e as KeyboardEvent).key === 'Escape') closeRename();
});
byId<HTMLFormElement>('rename-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = byId<HTMLInputElement>('rename-input').value.trim();
  if (!renaming || !name) return;
  void api.call<{ name: string }>('PATCH', '/api/node/identity', { name }).then((ident) => {
    setText(byId('node-name'), ident.name);
    clearError();
    closeRename();
  }, showError);
});

// ---- connect a device (QR + PIN) ------------------------------------------------------------------------

let pairing: PairStartResponse | undefined;
let countdownTimer: ReturnType<typeof setInterval> | undefined;
let starting = false;
/** The LAN address the person chose for the QR (a machine may have Wi-Fi and Ethernet); kept for new codes. */
let chosenAddress: string | undefined;

async function startPairing(): Promise<void> {
  if (starting) return;
  starting = true;
  try {
    const p = await api.call<PairStartResponse>('POST', '/auth/pair/start', chosenAddress ? { address: chosenAddress } : {});
    pairing = p;
    byId('pair-done').hidden = true;
    byId<HTMLImageElement>('pair-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(p.qr_svg)}`;
    setText(byId('pair-pin'), groupDigits(p.pin));
    byId('pair-pin').setAttribute('aria-label', `PIN ${p.pin.split('').join(' ')}`);
    setText(byId('pair-linking-code'), p.linking_code);
    const link = byId<HTMLAnchorElement>('pair-url');
    link.href = p.url;
    setText(link, p.url);
    const others = p.candidate_urls.filter((u) => u !== p.url);
    byId('other-urls').hidden = others.length === 0;
    byId('other-url-list').replaceChildren(
      ...others.map((u) => {
        const use = h('button', { type: 'button', class: 'link', 'data-testid': 'use-address' }, 'Use for the QR');
        use.addEventListener('click', () => {
          chosenAddress = new URL(u).hostname.replace(/^\[|\]$/g, '');
          void startPairing();
        });
        return h('li', {}, h('code', {}, u), ' ', use);
      }),
    );
    byId('pair-panel').hidden = false;
    setText(byId('connect-device'), 'New code');
    clearError();
    tickCountdown();
    clearInterval(countdownTimer);
    countdownTimer = setInterval(tickCountdown, 1000);
  } catch (err) {
    // No retry loop on a failing node: the expired code goes away and the person can press the button again.
    if (pairing && Date.parse(pairing.expires_at) <= Date.now()) closePairing();
    showError(err);
  } finally {
    starting = false;
  }
}

function tickCountdown(): void {
  if (!pairing) return;
  const left = Math.max(0, Math.ceil((Date.parse(pairing.expires_at) - Date.now()) / 1000));
  const m = Math.floor(left / 60);
  const s = left % 60;
  setText(byId('pair-countdown'), `${m}:${String(s).padStart(2, '0')}`);
  byId('pair-countdown').setAttribute('aria-label', `expires in ${m} minutes ${s} seconds`);
  if (left === 0) void startPairing(); // expired: a fresh code, without the person asking
}

function closePairing(): void {
  clearInterval(countdownTimer);
  countdownTimer = undefined;
  pairing = undefined;
  byId('pair-panel').hidden = true;
  setText(byId('connect-device'), 'Connect device');
}

byId('connect-device').addEventListener('click', () => void startPairing());
byId('pair-close').addEventListener('click', closePairing);

function onPairingCompleted(e: Extract<AdminEvent, { type: 'pairing_completed' }>): void {
  const done = byId('pair-done');
  setText(done, `Paired with ${e.name}.`);
  done.hidden = false;
  // The code shown was single-use: once it is spent, hide it rather than show a dead code.
  if (pairing && pairing.code === e.code) closePairing();
}

// ---- paired devices -------------------------------------------------------------------------------------

function deviceRow(d: MeshNodeView): HTMLLIElement {
  const status = h('span', { class: 'status', 'data-role': 'status' });
  const name = h('span', { class: 'row-title', 'data-role': 'name' });
  const details = h(
    'span',
    { class: 'row-details', 'data-role': 'details' },
    h('span', { 'data-role': 'kind' }),
    ' · ',
    h('span', { 'data-role': 'last-seen', 'data-testid': 'last-seen' }),
    h('span', { class: 'sep-before', 'data-role': 'fingerprint' }),
  );
  const unpair = h('button', { type: 'button', class: 'danger', 'data-testid': 'unpair-button' }, 'Unpair');
  const confirmText = h('span', { 'data-role': 'confirm-text' });
  const confirm = h('button', { type: 'button', class: 'danger', 'data-testid': 'unpair-confirm' }, 'Yes, unpair');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const confirmBox = h('span', { class: 'confirm', role: 'group', hidden: true }, confirmText, confirm, cancel);
  const ended = h('span', { class: 'row-details ended', 'data-role': 'ended', 'data-testid': 'ended-by-peer', hidden: true });
  // The other desktop already ended the pairing: nothing to confirm, this only tidies the list.
  const remove = h('button', { type: 'button', class: 'secondary', 'data-testid': 'remove-button', hidden: true }, 'Remove');
  const row = h(
    'li',
    { class: 'row', 'data-testid': 'device-row', 'data-node-id': d.node_id },
    h('span', { class: 'row-main' }, name, status, ended, details),
    h('span', { class: 'row-actions' }, unpair, confirmBox, remove),
  );

  const forget = (btn: HTMLButtonElement) => {
    btn.disabled = true;
    const id = row.dataset.nodeId!;
    void api.call('DELETE', `/api/mesh/nodes/${encodeURIComponent(id)}`).then(
      () => {
        clearError();
        // The focused button goes with its row: keep keyboard and screen-reader users in the list.
        const next = (row.nextElementSibling ?? row.previousElementSibling)?.querySelector<HTMLButtonElement>('button:not([hidden])');
        row.remove(); // the next state push agrees; removing now gives immediate feedback
        if (next) next.focus();
        else byId('devices-heading').focus();
      },
      (err) => {
        btn.disabled = false;
        showError(err);
      },
    );
  };
  remove.addEventListener('click', () => forget(remove));

  unpair.addEventListener('click', () => {
    unpair.hidden = true;
    confirmBox.hidden = false;
    confirm.focus();
  });
  cancel.addEventListener('click', () => {
    confirmBox.hidden = true;
    unpair.hidden = false;
    unpair.focus();
  });
  confirm.addEventListener('click', () => forget(confirm));
  return row;
}

function updateDeviceRow(row: HTMLLIElement, d: MeshNodeView, now: number): void {
  const q = (role: string) => row.querySelector<HTMLElement>(`[data-role="${role}"]`)!;
  setText(q('name'), d.name);
  const st = q('status');
  const presence = d.status as Presence;
  setText(st, STATUS_LABEL[presence] ?? presence);
  st.dataset.status = presence;
  if (presence === 'degraded') st.title = 'Missed its recent heartbeats: the connection is unsteady, or the device is going away.';
  else st.removeAttribute('title');
  row.dataset.status = presence;
  setText(q('kind'), d.kind === 'phone' ? 'Phone' : 'Desktop');
  const seen = q('last-seen');
  setText(seen, `last seen ${relativeTime(d.last_seen, now)}`);
  if (d.last_seen) seen.title = new Date(d.last_seen).toLocaleString();
  setText(q('fingerprint'), d.fingerprint ?? '');
  q('fingerprint').hidden = !d.fingerprint;
  setText(q('confirm-text'), `Unpair ${d.name}? It will have to pair again.`);
  row.querySelector('[data-testid="unpair-button"]')!.setAttribute('aria-label', `Unpair ${d.name}`);

  const endedAt = d.ended_by_peer_at ?? null;
  const ended = q('ended');
  const unpair = row.querySelector<HTMLButtonElement>('[data-testid="unpair-button"]')!;
  const remove = row.querySelector<HTMLButtonElement>('[data-testid="remove-button"]')!;
  row.dataset.ended = String(endedAt !== null);
  ended.hidden = endedAt === null;
  remove.hidden = endedAt === null;
  if (endedAt !== null) {
    // Said in words instead of a presence dot: "offline" would suggest it may come back.
    setText(ended, `${d.name} unpaired this desktop ${relativeTime(endedAt, now)}.`);
    ended.title = new Date(endedAt).toLocaleString();
    st.hidden = true;
    unpair.hidden = true;
    row.querySelector<HTMLElement>('.confirm')!.hidden = true;
    remove.setAttribute('aria-label', `Remove ${d.name} from this list`);
  } else {
    st.hidden = false;
    if (row.querySelector<HTMLElement>('.confirm')!.hidden) unpair.hidden = false;
  }
}

const STATUS_LABEL: Record<Presence, string> = { online: 'Online', degraded: 'Degraded', offline: 'Offline' };
const STATUS_ORDER: Record<string, number> = { online: 0, degraded: 1, offline: 2 };

function renderDevices(s: AdminState): void {
  const now = Date.now();
  // Desktops that ended the pairing first: they ask for the person's attention (and a Remove).
  const rank = (d: MeshNodeView) => (d.ended_by_peer_at ? -1 : (STATUS_ORDER[d.status] ?? 3));
  const devices = [...s.devices].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  reconcile(
    byId('device-list'),
    devices,
    (d) => d.node_id,
    deviceRow,
    (el, d) => updateDeviceRow(el, d, now),
  );
  byId('devices-empty').hidden = devices.length > 0;
}

// ---- notices (a device paired again after a reinstall replaced its old entry) ---------------------------

/** Dismissed here; hidden at once, even before the node's next state push agrees. */
const dismissedNotices = new Set<string>();

function noticeText(n: UiNotice): string {
  return n.type === 'peer_unpaired'
    ? `${n.name} unpaired this desktop: messages no longer go to it or its devices.`
    : `${n.name} was paired again (reinstalled?): the old entry was replaced.`;
}

const NOTICE_TYPES = new Set<string>(['device_replaced', 'peer_unpaired']);

function noticeBanner(n: UiNotice): HTMLDivElement {
  const dismiss = h('button', { type: 'button', class: 'link', 'data-testid': 'notice-dismiss' }, 'Dismiss');
  const banner = h(
    'div',
    { class: 'banner notice', role: 'status', 'data-testid': 'notice', 'data-notice-id': n.id, 'data-type': n.type },
    h('span', { 'data-role': 'text' }),
    dismiss,
  );
  dismiss.addEventListener('click', () => {
    dismissedNotices.add(n.id);
    banner.remove();
    void api.call('POST', `/api/admin/notices/${encodeURIComponent(n.id)}/dismiss`, {}).catch((err) => {
      // Already gone on the node (restarted, or older than the last 20): nothing left to dismiss.
      if (err instanceof ApiFailure && err.status === 404) return;
      dismissedNotices.delete(n.id); // not dismissed after all: show it again
      if (state) renderNotices(state);
      showError(err);
    });
  });
  return banner;
}

function renderNotices(s: AdminState): void {
  // Typed here, not from the AdminState schema: a notice type this page does not know is left out.
  const notices = (((s as unknown as AdminStateExtras).notices ?? []) as readonly UiNotice[]).filter(
    (n) => NOTICE_TYPES.has(n.type) && !dismissedNotices.has(n.id),
  );
  reconcile(
    byId('notices'),
    notices,
    (n) => n.id,
    noticeBanner,
    (el, n) => {
      setText(el.querySelector('[data-role="text"]')!, noticeText(n));
      el.querySelector('[data-testid="notice-dismiss"]')!.setAttribute('aria-label', `Dismiss: ${noticeText(n)}`);
    },
  );
}

// ---- pending confirmations (desktop pairing by linking code) --------------------------------------------

function pendingRow(p: PendingPairingView): HTMLLIElement {
  const yes = h('button', { type: 'button', class: 'primary' }, 'Confirm');
  const no = h('button', { type: 'button', class: 'danger' }, 'Reject');
  const row = h(
    'li',
    { class: 'row', 'data-testid': 'pending-pairing', 'data-pairing-id': p.pairing_id },
    h(
      'span',
      { class: 'row-main' },
      h('span', { class: 'row-title', 'data-role': 'name' }),
      h('span', { class: 'row-details' }, 'Code on both screens: ', h('strong', { class: 'sas', 'data-role': 'sas' })),
      h('span', { class: 'row-details', 'data-role': 'details' }),
    ),
    h('span', { class: 'row-actions' }, yes, no),
  );
  const act = (what: 'confirm' | 'reject', btn: HTMLButtonElement) => {
    yes.disabled = no.disabled = true;
    void api.call('POST', `/api/admin/pairings/${encodeURIComponent(p.pairing_id)}/${what}`).then(
      () => {
        clearError();
        row.remove();
      },
      (err) => {
        yes.disabled = no.disabled = false;
        btn.focus();
        showError(err);
      },
    );
  };
  yes.addEventListener('click', () => act('confirm', yes));
  no.addEventListener('click', () => act('reject', no));
  return row;
}

function renderPending(s: AdminState): void {
  reconcile(
    byId('pending-list'),
    s.pending_pairings,
    (p) => p.pairing_id,
    pendingRow,
    (row, p) => {
      const q = (role: string) => row.querySelector<HTMLElement>(`[data-role="${role}"]`)!;
      setText(q('name'), `${p.name} (${p.direction === 'incoming' ? 'wants to pair with this desktop' : 'you are pairing with it'})`);
      setText(q('sas'), groupDigits(p.sas));
      setText(q('details'), `Fingerprint ${p.fingerprint}`);
    },
  );
  byId('pending-section').hidden = s.pending_pairings.length === 0;
}

// ---- discovered desktops --------------------------------------------------------------------------------

function reportRemote(r: PairRemoteResponse): void {
  const done = byId('pair-done');
  if ('node' in r) setText(done, `Paired with ${r.node.name}.`);
  else {
    setText(done, `Almost done: check that ${r.pending.name} shows the code ${groupDigits(r.pending.sas)}, then confirm on both desktops.`);
    // Show the confirmation now, whether or not the node's state push (which lists it too) came first.
    if (state && !state.pending_pairings.some((p) => p.pairing_id === r.pending.pairing_id)) {
      render({ ...state, pending_pairings: [...state.pending_pairings, r.pending] });
    }
    byId('pending-section').scrollIntoView({ block: 'nearest' });
  }
  done.hidden = false;
}

function discoveredRow(n: DiscoveredNodeView): HTMLLIElement {
  const id = `disc-${Math.random().toString(36).slice(2, 9)}`;
  const pairBtn = h('button', { type: 'button', class: 'secondary', 'data-role': 'pair' }, 'Pair');
  const code = h('input', {
    id: `${id}-code`,
    name: 'linking_code',
    required: true,
    maxlength: 16,
    autocomplete: 'off',
    placeholder: 'ABCD-EFGH',
    autocapitalize: 'characters',
  });
  const pin = h('input', {
    id: `${id}-pin`,
    name: 'pin',
    required: true,
    inputmode: 'numeric',
    pattern: '\\d{6}',
    maxlength: 6,
    autocomplete: 'off',
  });
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Pair');
  const form = h(
    'form',
    { class: 'stack pair-form', hidden: true },
    h('label', { for: code.id }, 'Linking code shown on that desktop'),
    code,
    h('label', { for: pin.id }, 'PIN shown on that desktop'),
    pin,
    h('span', { class: 'actions' }, submit, cancel),
  );
  const row = h(
    'li',
    { class: 'row', 'data-node-id': n.node_id },
    h(
      'span',
      { class: 'row-main' },
      h('span', { class: 'row-title', 'data-role': 'name' }),
      h('span', { class: 'row-details', 'data-role': 'details' }),
    ),
    h('span', { class: 'row-actions' }, pairBtn),
    form,
  );
  pairBtn.addEventListener('click', () => {
    form.hidden = false;
    pairBtn.hidden = true;
    code.focus();
  });
  cancel.addEventListener('click', () => {
    form.hidden = true;
    pairBtn.hidden = false;
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const current = state?.discovered.find((d) => d.node_id === row.dataset.nodeId);
    if (!current) return showError('That desktop is no longer visible on the network.');
    submit.disabled = true;
    void api
      .call<PairRemoteResponse>('POST', '/api/admin/pair-remote', {
        host: current.host,
        port: current.port,
        linking_code: code.value.trim(),
        fingerprint: current.fingerprint,
        pin: pin.value.trim(),
      })
      .then((r) => {
        clearError();
        reportRemote(r);
        form.hidden = true;
        pairBtn.hidden = false;
        code.value = pin.value = '';
      }, showError)
      .finally(() => {
        submit.disabled = false;
      });
  });
  return row;
}

function renderDiscovered(s: AdminState): void {
  const nodes = s.discovered.filter((d) => !d.paired);
  reconcile(
    byId('discovered-list'),
    nodes,
    (n) => n.node_id,
    discoveredRow,
    (row, n) => {
      const q = (role: string) => row.querySelector<HTMLElement>(`[data-role="${role}"]`)!;
      setText(q('name'), n.name);
      setText(q('details'), `${n.host}:${n.port} · ${n.fingerprint}`);
      q('pair').setAttribute('aria-label', `Pair with ${n.name}`);
    },
  );
  byId('discovered-empty').hidden = nodes.length > 0;
}

// ---- pair by link or address (where mDNS cannot see the other desktop) ----------------------------------

const manualTarget = byId<HTMLInputElement>('url-pair-url');
const manualCode = byId<HTMLInputElement>('url-pair-code');
const manualPin = byId<HTMLInputElement>('url-pair-pin');
const manualError = byId('url-pair-error');

function manualFieldError(text: string | undefined, focus?: HTMLInputElement): void {
  setText(manualError, text ?? '');
  manualError.hidden = !text;
  for (const el of [manualTarget, manualCode, manualPin]) el.removeAttribute('aria-invalid');
  if (text && focus) {
    focus.setAttribute('aria-invalid', 'true');
    focus.focus();
  }
}

/** A link carries the code; an address needs the linking code as well. */
function syncManualFields(): void {
  const t = manualTarget.value.trim();
  const parsed = t ? parseManualTarget(t) : undefined;
  byId('url-pair-code-field').hidden = parsed?.kind !== 'address';
}

manualTarget.addEventListener('input', () => {
  syncManualFields();
  if (!manualError.hidden) manualFieldError(undefined);
});

byId<HTMLFormElement>('url-pair-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.currentTarget as HTMLFormElement;
  const btn = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  if (btn.disabled) return;
  syncManualFields();
  const target = parseManualTarget(manualTarget.value);
  if (target.kind === 'error') return manualFieldError(target.message, manualTarget);
  const pin = manualPin.value.replace(/\s/g, '');
  let body: Record<string, unknown>;
  if (target.kind === 'url') body = { url: target.url, pin };
  else {
    const code = normalizeLinkingCodeInput(manualCode.value);
    if (!code) {
      return manualFieldError(
        manualCode.value.trim()
          ? 'A linking code is 8 letters and digits, like ABCD-EFGH, as shown under the QR code on the other desktop.'
          : 'With an address, also type the linking code shown on the other desktop (like ABCD-EFGH).',
        manualCode,
      );
    }
    body = { host: target.host, port: target.port, linking_code: code, pin };
  }
  if (!/^\d{6}$/.test(pin)) return manualFieldError('The PIN is the 6 digits shown on the other desktop.', manualPin);
  manualFieldError(undefined);
  btn.disabled = true;
  void api
    .call<PairRemoteResponse>('POST', '/api/admin/pair-remote', body)
    .then(
      (r) => {
        clearError();
        reportRemote(r);
        manualTarget.value = manualCode.value = manualPin.value = '';
        syncManualFields();
      },
      (err) => {
        showError(err);
        if (err instanceof ApiFailure && err.code === 'pin_mismatch') manualPin.select();
      },
    )
    .finally(() => {
      btn.disabled = false;
    });
});

// ---- state + socket -------------------------------------------------------------------------------------

function render(s: AdminState): void {
  state = s;
  renderIdentity(s);
  cloud.showIdentity();
  renderNotices(s);
  network.setStateAddresses(s.lan_addresses);
  network.setDeviceKinds(s.devices);
  renderPending(s);
  renderDevices(s);
  renderDiscovered(s);
  // A state push follows every change the node knows of (a pairing, a rename here or on a paired desktop, a
  // peer link up or down, a desktop of the home announcing its devices): the To list and banners follow it.
  void messages?.refreshDirectory();
}

function onEvent(e: AdminEvent): void {
  if (e.type === 'cloud') cloud.onPush(e.cloud);
  else if (e.type === 'envelope' || e.type === 'message_status') messages?.onPush(e);
  else if (e.type === 'state') render(e.state);
  else if (e.type === 'pairing_completed') onPairingCompleted(e);
  // 'pairing_confirmation' is followed by a state push that lists it under pending_pairings.
}

let wasLive = false;

function showStatus(s: SocketStatus): void {
  // Back after a drop: pushes may have been missed while away.
  if (s.kind === 'live' && wasLive) {
    void cloud.load();
    void messages?.refreshAll();
  }
  if (s.kind === 'live') wasLive = true;
  // 'connecting' keeps what was said: the first connect is not "offline", a reconnect after a drop still is.
  if (s.kind !== 'connecting') messages?.setLinkUp(s.kind === 'live');
  const el = byId('conn-status');
  el.dataset.state = s.kind;
  setText(
    el,
    s.kind === 'live' ? 'Live' : s.kind === 'connecting' ? 'Connecting…' : `Connection lost; retrying in ${Math.ceil(s.inMs / 1000)} s…`,
  );
}

/**
 * No valid admin token: say where the link is instead of showing a UI that can never load. Everything else on
 * the page goes away (an empty device list or "Loading…" would claim a state this page cannot know).
 */
function showLocked(reason: 'no-token' | 'bad-token'): void {
  socket?.stop();
  for (const id of ['app', 'notices', 'error-banner']) byId(id).hidden = true;
  for (const el of document.querySelectorAll<HTMLElement>('header.top')) el.hidden = true;
  for (const el of document.querySelectorAll<HTMLElement>('#locked [data-reason]')) el.hidden = el.dataset.reason !== reason;
  if (reason === 'bad-token') setText(byId('locked-heading'), 'This desktop UI link has expired');
  byId('locked').hidden = false;
  document.title = 'Salita: open the desktop UI with its link';
}

/** After the socket dropped: is the token still good? (A browser hides why a WebSocket upgrade failed.) */
async function checkAfterDrop(): Promise<boolean> {
  try {
    render(await api.call<AdminState>('GET', '/api/admin/state'));
    return true;
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) {
      const fresh = window.salita ? await acquireAdminToken({ preferBridge: true }) : null;
      if (fresh && fresh !== api.currentToken) {
        api.setToken(fresh);
        return true;
      }
      showLocked('bad-token');
      return false;
    }
    return true; // the node is down or restarting: keep trying
  }
}

async function main(): Promise<void> {
  const token = await acquireAdminToken();
  if (!token) {
    showLocked('no-token');
    return;
  }
  api = new AdminApi(token);
  try {
    render(await api.call<AdminState>('GET', '/api/admin/state'));
  } catch (err) {
    if (!(await checkAfterDrop())) return;
    showError(err);
  }
  void cloud.load();
  socket = new AdminSocket(() => api.currentToken, { onEvent, onStatus: showStatus, onDropped: checkAfterDrop });
  socket.connect();
  messages = await startDesktopMessaging(() => api, byId('messages-panel'));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') socket?.nudge();
  });
  // Keep "last seen 2 min ago" honest between pushes (local re-render only, no requests).
  setInterval(() => {
    if (state) renderDevices(state);
  }, 30_000);
}

void main();
