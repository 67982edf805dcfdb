// The phone pairing page (opened from the desktop's QR code): asks for a device name and the PIN, pairs over
// the Noise handshake (shared/client/pairing-client.ts), keeps the session in localStorage, and then keeps the
// desktop informed that this device is around while the page stays open.
import '../common/no-eval.js';
import { DeviceClient } from '../../../shared/client/device-client.js';
import { PairingError, pairWithNode } from '../../../shared/client/pairing-client.js';
import { fromBase64Url, toBase64Url } from '../../../shared/encoding.js';
import { normalizeFingerprint, sameFingerprint } from '../../../shared/fingerprint.js';
import { byId, h, setText } from '../common/dom.js';
import { type PhoneMessaging, startPhoneMessaging } from './messaging.js';
import { forgetSession, loadName, loadOrCreateIdentity, loadSessions, type StoredSession, saveName, saveSession } from './storage.js';

const HEARTBEAT_MS = 30_000;

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

function startSession(s: StoredSession): void {
  clearInterval(heartbeat);
  messaging?.stop();
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
    void client.request('POST', '/api/node/heartbeat', {}).catch(() => {
      /* offline for now; the next beat retries */
    });
  };
  heartbeat = setInterval(beat, HEARTBEAT_MS);
  document.addEventListener('visibilitychange', beat);
  messaging = startPhoneMessaging(client, byId('phone-messages'));
}

function showPaired(s: StoredSession): void {
  form.hidden = true;
  clearError();
  setText(byId('title'), 'Paired');
  byId('phone-intro').hidden = true;
  byId('desktop-fp-line').hidden = true;
  status(
    h('p', { class: 'msg ok' }, `Paired with ${s.desktop.name}`),
    h(
      'p',
      { class: 'hint' },
      'Desktop fingerprint ',
      h('code', { 'data-testid': 'phone-desktop-fingerprint' }, displayFingerprint(s.desktop.fingerprint)),
    ),
    h('p', { class: 'hint' }, 'This device now appears on the desktop. Keep this page open to get messages.'),
  );
}

// ---- the form --------------------------------------------------------------------------------------------

async function pair(code: string, fp: string | null): Promise<void> {
  clearError();
  const name = nameInput.value.trim();
  const pin = pinInput.value.replace(/\s/g, '');
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
    const r = await client.request('GET', '/api/session');
    if (r.status === 200) {
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
    const res = await fetch('/api/node/addresses', { cache: 'no-store' });
    if (!res.ok) return; // an older desktop without this list: the section stays hidden
    const body = (await res.json()) as { urls?: unknown };
    urls = Array.isArray(body.urls) ? body.urls.filter((u): u is string => typeof u === 'string') : [];
  } catch {
    return;
  }
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
