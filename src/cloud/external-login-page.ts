// The cloud's own login page for external sign-in (docs/cloud.md "External login"): served from the cloud's
// public origin, so WebAuthn binds passkeys to the cloud (never to a node's LAN page). The passkey page loads
// @simplewebauthn/browser's bundle from the cloud itself and runs one ceremony at a button press (browsers want
// a user gesture); everything else is static text. Strict CSP: scripts only from the cloud, inline with a nonce.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEBAUTHN_ASSET_PATH = '/login/assets/webauthn.js';
/** Where build-cloud.mjs puts the bundle next to out/cloud/server.mjs. */
export const WEBAUTHN_ASSET_FILE = 'assets/simplewebauthn-browser.umd.min.js';

let asset: string | undefined;
/** @simplewebauthn/browser's UMD bundle (global SimpleWebAuthnBrowser): next to the cloud bundle, else from node_modules. */
export function webauthnBrowserScript(): string {
  if (asset !== undefined) return asset;
  const beside = join(dirname(fileURLToPath(import.meta.url)), WEBAUTHN_ASSET_FILE);
  let file = beside;
  if (!existsSync(file)) {
    const main = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
    // .../node_modules/@simplewebauthn/browser/script/index.js -> the package's dist/bundle
    file = join(dirname(dirname(main)), 'dist', 'bundle', 'index.umd.min.js');
  }
  asset = readFileSync(file, 'utf8');
  return asset;
}

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}.error{color:#b00020}.ok{color:#1b5e20}';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function pageHeaders(nonce?: string): Record<string, string> {
  return {
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; script-src 'self'${nonce ? ` 'nonce-${nonce}'` : ''}; form-action 'none'; frame-ancestors 'none'`,
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

/** A page that says how a sign-in ended (or why it cannot go on). */
export function resultPage(ok: boolean, text: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Salita sign-in</title><style>${STYLE}</style></head><body><h1>Salita sign-in</h1>
<p id="result" class="${ok ? 'ok' : 'error'}" data-ok="${ok}">${escapeHtml(text)}</p>
${ok ? '<p>Go back to Salita: it has signed in by itself. You can close this window.</p>' : '<p>Start again from Salita if you want to.</p>'}</body></html>`;
}

const PASSKEY_SCRIPT = `
const body = document.body;
const id = body.dataset.session, register = body.dataset.method === 'passkey_register';
const out = document.getElementById('result'), button = document.getElementById('go');
const say = (text, ok) => { out.textContent = text; out.className = ok ? 'ok' : 'error'; out.dataset.ok = String(ok); };
button.addEventListener('click', async () => {
  button.disabled = true;
  try {
    const r = await fetch('/api/auth/external/browser/' + id + '/options', { method: 'POST' });
    const j = await r.json();
    if (!r.ok) return say(j.message || 'The cloud refused.', false);
    let response;
    try {
      response = register
        ? await SimpleWebAuthnBrowser.startRegistration({ optionsJSON: j.options })
        : await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: j.options });
    } catch (e) {
      return say('No passkey was used: ' + (e && e.message ? e.message : e), false);
    }
    const f = await fetch('/api/auth/external/browser/' + id + '/passkey', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response }),
    });
    const k = await f.json();
    if (f.ok) { say(register ? 'Your passkey was added to your account.' : 'Signed in with your passkey.', true); button.hidden = true; }
    else say(k.message || 'The cloud refused the passkey.', false);
  } finally { if (!button.hidden) button.disabled = false; }
});`;

/** The passkey page of one session: sign in with a passkey, or add one to the account. */
export function passkeyPage(browserId: string, method: 'passkey' | 'passkey_register', nonce: string, nodeName: string | null): string {
  const what = method === 'passkey_register' ? 'Add a passkey to your Salita account' : 'Sign in to Salita with a passkey';
  const who = nodeName ? ` for the desktop <strong>${escapeHtml(nodeName)}</strong>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${what}</title><style>${STYLE}</style><script src="${WEBAUTHN_ASSET_PATH}"></script></head>
<body data-session="${escapeHtml(browserId)}" data-method="${method}"><h1>${what}</h1>
<p>This page is your cloud's own${who}. Your browser asks for the passkey; nothing else is needed.</p>
<p><button type="button" id="go">${method === 'passkey_register' ? 'Add a passkey' : 'Sign in with a passkey'}</button></p>
<p id="result" role="status"></p>
<script nonce="${nonce}">${PASSKEY_SCRIPT}</script></body></html>`;
}
