// Browser sign-in in the Cloud panel: "Sign in with a passkey" and "Sign in with <provider>" under the login
// form (offered as the cloud at the typed address says it offers them), the waiting box while the person signs
// in on the cloud's page (opened in the system browser: Electron hands window.open to shell.openExternal; a
// plain browser opens a tab), and "Add a passkey" once signed in. The panel follows the pushed cloud view: when
// the cloud says approved or failed, it moves on by itself.
import { useEffect, useState } from 'preact/hooks';
import type { ExternalMethodsResponse } from '../../../../shared/wire/external-login.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import type { CloudLinkView } from '../../../../shared/wire/relay.js';
import { useDesktop } from '../desktop-context.js';

/** Opens the cloud's sign-in page outside the desktop UI. */
export function openSignInPage(uri: string): void {
  if (/^https?:\/\//.test(uri)) window.open(uri, '_blank', 'noopener');
}

function isUrl(u: string): boolean {
  try {
    const p = new URL(u.trim());
    return p.protocol === 'http:' || p.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The browser sign-in buttons for the cloud at `url` (none until it answers, none from an older cloud). */
export function ExternalSignInButtons(props: { url: string; busy: boolean; onStart: (method: 'passkey' | 'oidc') => void }) {
  const desktop = useDesktop();
  const [methods, setMethods] = useState<ExternalMethodsResponse | undefined>();
  useEffect(() => {
    setMethods(undefined);
    if (!isUrl(props.url)) return;
    let live = true;
    // Asked once the address stopped changing for a moment, not at every keystroke.
    const t = setTimeout(() => {
      desktop.client.call(NODE_ENDPOINTS.cloudMethods, { body: { url: props.url.trim() } }).then(
        (m) => live && setMethods(m),
        () => live && setMethods(undefined),
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [props.url]);
  if (!methods || (!methods.passkey && !methods.oidc)) return null;
  return (
    <div class="actions" data-testid="cloud-external-methods">
      <span class="hint">Or sign in in your browser:</span>
      {methods.passkey && (
        <button
          type="button"
          class="secondary"
          data-testid="cloud-passkey-login"
          disabled={props.busy}
          onClick={() => props.onStart('passkey')}
        >
          Sign in with a passkey
        </button>
      )}
      {methods.oidc && (
        <button type="button" class="secondary" data-testid="cloud-oidc-login" disabled={props.busy} onClick={() => props.onStart('oidc')}>
          Sign in with {methods.oidc.name}
        </button>
      )}
    </div>
  );
}

/** While the person signs in (or adds a passkey) on the cloud's page; and what came of it. */
export function ExternalSignInStatus(props: { view: CloudLinkView; busy: boolean; onCancel: () => void }) {
  const e = props.view.external;
  if (!e) return null;
  if (e.status === 'pending') {
    const what = e.method === 'passkey_register' ? 'Add your passkey' : 'Finish signing in';
    return (
      <div data-testid="cloud-external" data-status="pending" data-method={e.method} class="banner">
        <strong>{what} in your browser.</strong> The cloud's page opened there; this panel moves on by itself when you are done (until{' '}
        {new Date(e.expires_at).toLocaleTimeString()}).{' '}
        <a data-testid="cloud-external-link" href={e.verification_uri} target="_blank" rel="noopener noreferrer">
          Open the page again
        </a>{' '}
        {e.method !== 'passkey_register' && (
          <button type="button" class="secondary" data-testid="cloud-external-cancel" disabled={props.busy} onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    );
  }
  if (e.method === 'passkey_register' && e.status === 'approved')
    return (
      <p data-testid="cloud-external" data-status="approved" data-method={e.method} class="banner ok" role="status">
        Your passkey was added: next time, "Sign in with a passkey" signs this or another desktop in.
      </p>
    );
  return null;
}
