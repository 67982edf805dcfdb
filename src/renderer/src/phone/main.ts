// The phone pairing page (opened from the desktop's QR code): asks for a device name and the PIN, pairs over
// the Noise handshake (shared/client/pairing-client.ts), keeps the session in localStorage, and then keeps the
// desktop informed that this device is around while the page stays open.
import '../common/no-eval.js';
import { ApiClient } from '../../../shared/client/api-client.js';
import { DeviceClient } from '../../../shared/client/device-client.js';
import { PairingError, pairWithNode } from '../../../shared/client/pairing-client.js';
import { fromBase64Url, toBase64Url } from '../../../shared/encoding.js';
import { normalizeFingerprint, sameFingerprint } from '../../../shared/fingerprint.js';
import type { HeartbeatResponse, SessionResponse } from '../../../shared/wire/http-answers.js';
import { NODE_ENDPOINTS } from '../../../shared/wire/node-endpoints.js';
import { type DesktopNode, PairCodeStateResponse } from '../../../shared/wire/schemas.js';
import { byId, h, setText } from '../common/dom.js';
import { type PhoneMessaging, startPhoneMessaging } from './messaging.js';
import { forgetSession, loadName, loadOrCreateIdentity, loadSessions, type StoredSession, saveName, saveSession } from './storage.js';

const HEARTBEAT_MS = 30_000;
/** The node's public routes, the same origin that served this page. */
const api = new ApiClient();

const form = byId<HTMLFormElement>('phone-form');
const nameInput = byId<HTMLInputElement>('phone-name');
const pinInput = byId<HTMLInputElement>('phone-pin');
const submit = byId<HTMLButtonElement>('phone-submit');
const errorBox = byId('phone-error');
const statusBox = byId('phone-status');

/** code + fp from the fragment (`#code=…&fp=…`) or, as the node's QR has them, the query string. */
function linkParams(): { code: string | null; fp: string | null } {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  return { code: hash.get('code') ?? query.get('code'), fp: hash.get('fp') ?? query.get('fp') };
}

/**
 * The page's stable address once paired: without the spent code, so a reload, a bookmark or a home-screen icon
 * opens the paired home and never the PIN form of a used code. The fingerprint stays, to pick this desktop.
 */
function goHome(desktop: DesktopNode): void {
  const fp = normalizeFingerprint(desktop.fingerprint);
  history.replaceState(null, '', fp ? `/pair?fp=${fp}` : '/pair');
}

function displayFingerprint(fp: string): string {
  const n = normalizeFingerprint(fp);
  return n ? n.match(/.{4}/g)!.join('-') : fp;
}

function defaultDeviceName(): string {
  const ua = navigator.userAgent;
  const platform = (navigator as Navigator & { userAgentData?: { platform?: string } }).userAgentData?.platform;
  if (/iPhone/.test(ua)) return 'iPhone';
  if (/iPad/.test(ua)) return 'iPad';
  if (/Android/.test(ua)) return /Mobile/.test(ua) ? 'Android phone' : 'Android tablet';
  if (platform) return `${platform} device`;
  if (/Mac/.test(ua)) return 'Mac';
  if (/Windows/.test(ua)) return 'Windows PC';
  if (/Linux/.test(ua)) return 'Linux device';
  return 'My phone';
}

function showError(text: string): void {
  setText(errorBox, text);
  errorBox.hidden = false;
}

function clearError(): void {
  errorBox.hidden = true;
  setText(errorBox, '');
}

function status(...children: (Node | string)[]): void {
  statusBox.replaceChildren(...children);
}

/** Plain words for each way the node (or this page) can refuse a pairing. */
function explain(err: unknown): { text: string; retryable: boolean } {
  if (!(err instanceof PairingError)) return { text: `Pairing failed: ${(err as Error)?.message ?? String(err)}`, retryable: true };
  const again = 'Press "Connect device" on the desktop for a new code and scan it again.';
  switch (err.code) {
    case 'pin_mismatch': {
      const left = typeof err.details.attempts_left === 'number' ? err.details.attempts_left : undefined;
      if (left === 0) return { text: `Wrong PIN, and that was the last attempt: this code is now locked. ${again}`, retryable: false };
      return {
        text: `Wrong PIN. Check the 6 digits on the desktop's screen.${left !== undefined ? ` ${left} attempt${left === 1 ? '' : 's'} left.` : ''}`,
        retryable: true,
      };
    }
    case 'code_locked':
      return { text: `Too many wrong PINs: this code is locked. ${again}`, retryable: false };
    case 'code_expired':
      return { text: `This code has expired (codes last two minutes). ${again}`, retryable: false };
    case 'code_used':
      return { text: `This code was already used. ${again}`, retryable: false };
    case 'code_unknown':
      return { text: `The desktop does not know this code. ${again}`, retryable: false };
    case 'fingerprint_mismatch':
      return {
        text: 'Stop: the computer answering at this address is NOT the desktop whose QR code you scanned (its fingerprint differs). Nothing was sent. Check that you are on your own network and scan the code again.',
        retryable: false,
      };
    case 'peer_unreachable':
      return { text: 'Cannot reach the desktop. Is this phone on the same Wi-Fi, and is Salita still running?', retryable: true };
    default:
      return { text: err.message, retryable: true };
  }
}

// ---- after pairing: stay "online" and get messages while the page is open ------------------------------------------------

let heartbeat: ReturnType<typeof setInterval> | undefined;
let messaging: PhoneMessaging | undefined;

/** The heading and the page title say which desktop this is. */
function showDesktopName(name: string): void {
  document.title = `Salita: ${name}`;
  const line = document.getElementById('paired-with');
  if (line) setText(line, `Paired with ${name}`);
}

/**
 * The desktop as it answers now (a heartbeat, the socket's hello, a rename pushed on it): the title, the heading
 * and the stored session follow it. A node id that is not this session's desktop is not taken.
 */
function desktopChanged(s: StoredSession, desktop: DesktopNode): void {
  if (desktop.node_id !== s.desktop.node_id || JSON.stringify(desktop) === JSON.stringify(s.desktop)) return;
  s.desktop = desktop;
  saveSession(s);
  showDesktopName(desktop.name);
}

let beatOnShow: (() => void) | undefined;

function startSession(s: StoredSession): void {
  clearInterval(heartbeat);
  messaging?.stop();
  if (beatOnShow) document.removeEventListener('visibilitychange', beatOnShow);
  const client = new DeviceClient(
    location.origin,
    { sessionId: s.session_id, deviceSecret: fromBase64Url(s.device_secret) },
    {
      onSessionLost: () => {
        clearInterval(heartbeat);
        messaging?.stop();
        byId('phone-messages').hidden = true;
        forgetSession(s.desktop.node_id);
        status(
          h(
            'p',
            { class: 'msg error' },
            `This device is no longer paired with ${s.desktop.name}. Scan a new code on the desktop to pair again.`,
          ),
        );
      },
    },
  );
  const beat = () => {
    if (document.visibilityState !== 'visible') return;
    void client
      .request<HeartbeatResponse>('POST', '/api/node/heartbeat', {})
      .then((r) => {
        if (r.status === 200 && r.body.desktop_node) desktopChanged(s, r.body.desktop_node);
      })
      .catch(() => {
        /* offline for now; the next beat retries */
      });
  };
  heartbeat = setInterval(beat, HEARTBEAT_MS);
  beatOnShow = beat;
  document.addEventListener('visibilitychange', beat);
  messaging = startPhoneMessaging(client, byId('phone-messages'), (desktop) => desktopChanged(s, desktop));
}

function showPaired(s: StoredSession): void {
  form.hidden = true;
  clearError();
  setText(byId('title'), 'Paired');
  byId('phone-intro').hidden = true;
  byId('desktop-fp-line').hidden = true;
  goHome(s.desktop);
  status(
    h('p', { class: 'msg ok', id: 'paired-with', 'data-testid': 'phone-paired-with' }, ''),
    h(
      'p',
      { class: 'hint' },
      'Desktop fingerprint ',
      h('code', { 'data-testid': 'phone-desktop-fingerprint' }, displayFingerprint(s.desktop.fingerprint)),
    ),
    h('p', { class: 'hint' }, 'This device now appears on the desktop. Keep this page open to get messages.'),
  );
  showDesktopName(s.desktop.name);
}

// ---- the form --------------------------------------------------------------------------------------------

async function pair(code: string, fp: string | null): Promise<void> {
  clearError();
  const name = nameInput.value.trim();
  // As the desktop shows it ("156 350") or typed with a dash: only the digits count.
  const pin = pinInput.value.replace(/[\s-]/g, '');
  if (!name) {
    showError('Give this device a name, so you recognise it on the desktop.');
    nameInput.focus();
    return;
  }
  if (!/^\d{6}$/.test(pin)) {
    showError("The PIN is the 6 digits shown on the desktop's screen.");
    pinInput.focus();
    return;
  }
  saveName(name);
  submit.disabled = true;
  status(h('p', { class: 'hint' }, 'Pairing…'));
  try {
    const me = loadOrCreateIdentity();
    const ua = navigator.userAgent.slice(0, 256);
    const result = await pairWithNode({
      baseUrl: location.origin,
      code,
      pin,
      ...(fp ? { expectedFingerprint: fp } : {}),
      identity: {
        privateKey: me.privateKey,
        publicKey: me.publicKey,
        payload: {
          node_id: me.nodeId,
          name,
          capabilities: [],
          public_key: toBase64Url(me.publicKey),
          device_info: { platform: 'web', user_agent: ua },
        },
      },
    });
    const stored: StoredSession = {
      session_id: result.sessionId,
      device_secret: toBase64Url(result.deviceSecret),
      expires_at: result.expiresAt,
      paired_at: new Date().toISOString(),
      desktop: result.desktop,
    };
    saveSession(stored);
    showPaired(stored);
    startSession(stored);
  } catch (err) {
    const { text, retryable } = explain(err);
    status();
    showError(text);
    if (retryable) {
      pinInput.select();
      pinInput.focus();
    } else {
      form.hidden = true;
    }
  } finally {
    submit.disabled = false;
  }
}

async function resumeStored(fp: string | null): Promise<boolean> {
  const sessions = Object.values(loadSessions());
  const s = fp ? sessions.find((x) => sameFingerprint(x.desktop.fingerprint, fp)) : sessions.length === 1 ? sessions[0] : undefined;
  if (!s) return false;
  const client = new DeviceClient(location.origin, { sessionId: s.session_id, deviceSecret: fromBase64Url(s.device_secret) });
  try {
    const r = await client.request<SessionResponse>('GET', '/api/session');
    if (r.status === 200) {
      if (r.body.desktop_node?.node_id === s.desktop.node_id) {
        s.desktop = r.body.desktop_node;
        saveSession(s);
      }
      showPaired(s);
      startSession(s);
      return true;
    }
    if (r.status === 401) forgetSession(s.desktop.node_id);
  } catch {
    // unreachable: say nothing here, the page falls back to its instructions
  }
  return false;
}

// ---- other addresses of the desktop (another subnet, Ethernet vs Wi-Fi, a VPN) ----------------------------

/** Every advertised base URL of the desktop, each linking to this same page (with its code) at that address. */
async function showCandidateUrls(): Promise<void> {
  let urls: string[];
  try {
    urls = (await api.call(NODE_ENDPOINTS.nodeAddresses)).urls;
  } catch {
    return; // unreachable, or an older desktop without this list: the section stays hidden
  }
  if (!Array.isArray(urls)) return;
  const items = urls.flatMap((u) => {
    let base: URL;
    try {
      base = new URL(u);
    } catch {
      return [];
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') return [];
    const href = new URL(location.pathname + location.search + location.hash, base.origin).toString();
    const here = base.origin === location.origin;
    return [
      h(
        'li',
        { 'data-testid': 'phone-candidate-url', 'data-current': String(here) },
        h('a', { href, rel: 'noreferrer' }, base.origin),
        here ? h('span', { class: 'hint' }, ' (this page)') : '',
      ),
    ];
  });
  if (items.length === 0) return;
  byId('phone-url-list').replaceChildren(...items);
  byId('phone-other-addresses').hidden = false;
}

const ASK_AGAIN = 'ask the desktop for a new one (press "Connect device" in Salita and scan the new QR code).';
const CODE_REFUSED: Record<Exclude<PairCodeStateResponse['state'], 'open'>, string> = {
  expired: `This code expired — ${ASK_AGAIN}`,
  used: `This code was already used — ${ASK_AGAIN}`,
  locked: `This code is locked after too many wrong PINs — ${ASK_AGAIN}`,
  unknown: `This link is garbled or not from this desktop: it does not know the code. Scan the QR code again, or ${ASK_AGAIN}`,
};

const GARBLED_FINGERPRINT = `This link is garbled: the desktop's fingerprint in it is cut short or changed. Scan the QR code again, or ${ASK_AGAIN}`;

/** What the desktop says about the link's code; undefined when it cannot say (unreachable, an odd answer). */
async function codeState(code: string): Promise<PairCodeStateResponse | undefined> {
  try {
    const parsed = PairCodeStateResponse.safeParse(await api.call(NODE_ENDPOINTS.pairCodeState, { params: { code } }));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  void showCandidateUrls();
  const { code, fp } = linkParams();
  if (fp) {
    setText(byId('desktop-fp'), displayFingerprint(fp));
    byId('desktop-fp-line').hidden = false;
  }
  if (!code) {
    if (await resumeStored(fp)) return;
    setText(byId('phone-intro'), 'To pair, press "Connect device" in Salita on your desktop and scan the QR code it shows.');
    return;
  }
  const checked = await codeState(code);
  if (checked && checked.state !== 'open') {
    // A spent or dead code on a device already paired with this desktop (an old bookmark): its home.
    if (await resumeStored(fp ?? checked.desktop.fingerprint)) return;
    byId('phone-intro').hidden = true;
    byId('desktop-fp-line').hidden = true;
    showError(CODE_REFUSED[checked.state]);
    return;
  }
  // The link's fingerprint is the one the pairing insists on: a garbled one, or one this desktop says is not its
  // own, is refused now rather than after the PIN (the pairing itself checks the key either way).
  const wellFormedFp = fp === null || normalizeFingerprint(fp) !== null;
  if (!wellFormedFp || (fp && checked && !sameFingerprint(fp, checked.desktop.fingerprint))) {
    byId('phone-intro').hidden = true;
    byId('desktop-fp-line').hidden = true;
    showError(wellFormedFp ? explain(new PairingError('fingerprint_mismatch', '')).text : GARBLED_FINGERPRINT);
    return;
  }
  if (checked) {
    setText(byId('desktop-name'), checked.desktop.name);
    setText(byId('desktop-fp'), displayFingerprint(fp ?? checked.desktop.fingerprint));
    byId('desktop-fp-line').hidden = false;
  }
  const already = Object.values(loadSessions()).find((x) => fp && sameFingerprint(x.desktop.fingerprint, fp));
  if (already)
    status(h('p', { class: 'hint' }, `This device is already paired with ${already.desktop.name}; pairing again replaces that pairing.`));
  nameInput.value = loadName() ?? defaultDeviceName();
  form.hidden = false;
  pinInput.focus();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!submit.disabled) void pair(code, fp);
  });
}

void main();
