// The "Cloud" panel: log this node in to a cloud (URL and the account's email, then the 6-digit code the cloud
// mailed, or in the browser with a passkey or the cloud's OpenID provider: external-sign-in.tsx), the household the
// account's nodes form (remove one, sign out everywhere), see the link's status in words, its last problem (a
// changed cloud key, or the key directory's alarm, is a loud warning: key-log-alarm.tsx), the devices the cloud
// refused to publish, how many messages wait to go out, add a passkey, and log out. It renders the store's `cloud`
// (the admin `cloud` pushes), so it always says what the Messages panel says; an action's answer goes into the
// store too.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from '../../../../shared/client/api-client.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import type { CloudLinkStatus, CloudLinkView } from '../../../../shared/wire/relay.js';
import { useStore } from '../../common/store.js';
import { useDesktop } from '../desktop-context.js';
import { Contacts } from './contacts.js';
import { ExternalSignInButtons, ExternalSignInStatus, openSignInPage } from './external-sign-in.js';
import { Household } from './household.js';
import { KeyLogAlarm, keyLogText } from './key-log-alarm.js';

export function cloudStatusText(v: CloudLinkView): string {
  switch (v.status) {
    case 'not_configured':
      return 'Not set up';
    case 'logged_out':
      return 'Logged out';
    case 'awaiting_code':
      return 'Waiting for the code';
    case 'awaiting_browser':
      return 'Waiting for you in the browser';
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'reconnecting':
      return v.next_attempt_at ? `Reconnecting (next attempt at ${new Date(v.next_attempt_at).toLocaleTimeString()})` : 'Reconnecting';
    default:
      return String(v.status);
  }
}

const STATUS_DOT: Record<CloudLinkStatus, string> = {
  not_configured: 'offline',
  logged_out: 'offline',
  awaiting_code: 'degraded',
  awaiting_browser: 'degraded',
  connecting: 'degraded',
  connected: 'online',
  reconnecting: 'degraded',
};

/** The code a failed action failed with: the cloud's own (`cloud_error` of a cloud_rejected) or the node's. */
function failureCode(err: unknown): string | undefined {
  if (!(err instanceof ApiFailure)) return undefined;
  const inner = (err.body as { cloud_error?: unknown } | undefined)?.cloud_error;
  return typeof inner === 'string' ? inner : err.code;
}

/** What the cloud's log line names this desktop by: the name and fingerprint the header shows. */
export function codeLineWhose(identity: { name: string; fingerprint: string }): string {
  return `node ${JSON.stringify(identity.name)}, fingerprint ${identity.fingerprint}`;
}

/** Plain words for the codes the login can fail with (the cloud's own message otherwise). */
function loginErrorText(err: unknown): string {
  if (!(err instanceof ApiFailure)) return err instanceof Error ? err.message : String(err);
  const c = failureCode(err) ?? err.code;
  if (c.includes('otp_invalid')) return "Wrong code. Check the 6 digits on the cloud's log line for this desktop and try again.";
  if (c.includes('otp_expired')) return 'This code has expired. Press "Log in" again for a new one.';
  if (c.includes('otp_attempts_exceeded')) return 'Too many wrong codes. Press "Log in" again for a new one.';
  if (c.includes('otp_used') || c.includes('challenge_not_found'))
    return 'This code cannot be used any more. Press "Log in" again for a new one.';
  if (c === 'cloud_key_changed') return "The cloud's key changed: this may not be your cloud. See the warning above.";
  if (c === 'cloud_unreachable') return `Cannot reach the cloud: ${err.message}`;
  return err.message;
}

type Field = 'url' | 'email' | 'code';
interface FormError {
  text: string;
  /** The failure's code: the link's "last problem" with the same code is not said a second time. */
  code: string | undefined;
  field: Field | undefined;
  /** The link's status when it failed: once a push moved the link on, the error is old news and not shown. */
  status: CloudLinkStatus | undefined;
}

export function CloudPanel() {
  const desktop = useDesktop();
  const view = useStore(desktop.store, (s) => s.cloud);
  const identity = useStore(desktop.store, (s) => s.admin?.identity);
  const [unavailable, setUnavailable] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<FormError | undefined>();
  const [url, setUrl] = useState('');
  const [email, setEmail] = useState('');
  const emailInput = useRef<HTMLInputElement>(null);
  const [code, setCode] = useState('');
  const urlInput = useRef<HTMLInputElement>(null);
  const codeInput = useRef<HTMLInputElement>(null);
  const lastStatus = useRef<CloudLinkStatus | undefined>(undefined);

  // The connection loads the link at start; if that did not answer yet (or failed), ask once here, and say
  // plainly when this node has no cloud link at all.
  useEffect(() => {
    if (desktop.store.get().cloud) return;
    const before = desktop.store.get().cloud;
    desktop.client.call(NODE_ENDPOINTS.cloudLink).then(
      (cloud) => {
        if (desktop.store.get().cloud === before) desktop.store.set({ cloud });
      },
      (err) => setUnavailable(err instanceof ApiFailure && err.status === 404 ? 'Not available on this node yet' : 'Unknown'),
    );
  }, [desktop]);

  useEffect(() => {
    if (!view) return;
    setUnavailable(undefined);
    // The address is kept for the next login.
    if (view.url) setUrl((u) => u || view.url!);
    if (view.email) setEmail((m) => m || view.email!);
    if (view.status === 'awaiting_code' && lastStatus.current !== 'awaiting_code') codeInput.current?.focus();
    lastStatus.current = view.status;
  }, [view]);

  useEffect(() => {
    if (!formError?.field) return;
    (formError.field === 'url' ? urlInput : formError.field === 'email' ? emailInput : codeInput).current?.focus();
  }, [formError]);

  const act = async (run: () => Promise<CloudLinkView>, field: Field | undefined): Promise<boolean> => {
    if (busy) return false;
    setBusy(true);
    setFormError(undefined);
    try {
      // The pushes come in order; an answer may overtake one. Taken only if no push came while it was on its way
      // (else it may be older than what the push said).
      const before = desktop.store.get().cloud;
      const cloud = await run();
      if (desktop.store.get().cloud === before) desktop.store.set({ cloud });
      return true;
    } catch (err) {
      setFormError({ text: loginErrorText(err), code: failureCode(err), field, status: desktop.store.get().cloud?.status });
      return false;
    } finally {
      setBusy(false);
    }
  };

  const login = (e: Event) => {
    e.preventDefault();
    const u = url.trim();
    if (!/^https?:\/\/\S+$/i.test(u))
      return setFormError({
        text: "Type the cloud's address, like https://cloud.example.org",
        code: undefined,
        field: 'url',
        status: view?.status,
      });
    const m = email.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(m))
      return setFormError({
        text: 'Type the email address of your account, like ana@example.org: the code is mailed there.',
        code: undefined,
        field: 'email',
        status: view?.status,
      });
    void act(() => desktop.client.call(NODE_ENDPOINTS.cloudLogin, { body: { url: u, email: m } }), 'url');
  };

  const confirm = (e: Event) => {
    e.preventDefault();
    const c = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(c))
      return setFormError({
        text: 'The code is 6 digits, from the mail the cloud sent (or its log line for this desktop).',
        code: undefined,
        field: 'code',
        status: view?.status,
      });
    void act(() => desktop.client.call(NODE_ENDPOINTS.cloudCode, { body: { code: c } }), 'code').then((ok) => {
      if (ok) setCode('');
    });
  };

  const logout = () => void act(() => desktop.client.call(NODE_ENDPOINTS.cloudLogout), undefined);
  // The page opens in the system browser as soon as the cloud gave its link.
  const opened = (v: CloudLinkView) => {
    if (v.external?.status === 'pending') openSignInPage(v.external.verification_uri);
    return v;
  };
  const signInExternal = (method: 'passkey' | 'oidc') => {
    const u = url.trim();
    void act(async () => opened(await desktop.client.call(NODE_ENDPOINTS.cloudLoginExternal, { body: { url: u, method } })), 'url');
  };
  const addPasskey = () => void act(async () => opened(await desktop.client.call(NODE_ENDPOINTS.cloudAddPasskey)), undefined);
  const resetKeyLog = () => void act(() => desktop.client.call(NODE_ENDPOINTS.cloudKeyLogReset), undefined);

  const status = view?.status;
  const shownError = formError && formError.status === status ? formError : undefined;
  const loggedIn = status === 'connecting' || status === 'connected' || status === 'reconnecting';
  const e = view?.last_error ?? null;
  const keyChanged = e?.code === 'cloud_key_changed';
  // The key log's alarm has its own banner: the last problem does not say it twice.
  const keyLogAlarm = view?.key_log.status === 'alarm';
  const quiet = keyChanged || (keyLogAlarm && e?.code.startsWith('key_log_'));
  const refused = view?.unpublished ?? [];
  const outbox = view?.outbox ?? 0;

  return (
    <section
      aria-labelledby="cloud-heading"
      class="card"
      id="cloud-panel"
      data-testid="cloud-panel"
      data-status={status}
      data-unavailable={unavailable && !view ? 'true' : undefined}
    >
      <div class="card-head">
        <h2 id="cloud-heading">Cloud</h2>
        <span
          data-testid="cloud-status"
          class="status"
          role="status"
          aria-live="polite"
          data-status={view ? (STATUS_DOT[view.status] ?? 'offline') : undefined}
        >
          {view ? cloudStatusText(view) : (unavailable ?? '…')}
        </span>
      </div>
      <p class="hint">A cloud carries your devices' messages when they are not at home. It only ever sees them encrypted.</p>
      {keyChanged && e && (
        <div data-testid="cloud-warning" class="banner warning" role="alert">
          <strong>Warning: the cloud's key changed.</strong>{' '}
          <span>
            {`The cloud at ${view?.url ?? 'this address'} answered with a different key than the one this desktop knows. ` +
              'Someone may be pretending to be your cloud, so Salita stopped talking to it. If you did not reinstall or ' +
              `move your cloud yourself, do not log in again. Details (${new Date(e.at).toLocaleString()}): ${e.message}`}
          </span>
        </div>
      )}
      {view && <KeyLogAlarm view={view.key_log} busy={busy} onReset={resetKeyLog} />}
      {/* Kept in the page (hidden) so its code can be read; said once: not again when the form error says it. */}
      <p
        data-testid="cloud-problem"
        class="field-error"
        data-code={e && !quiet ? e.code : ''}
        hidden={!e || quiet || shownError?.code === e.code}
      >
        {e && !quiet ? `Last problem (${new Date(e.at).toLocaleString()}): ${e.message}` : ''}
      </p>
      {refused.length > 0 && (
        // Devices the cloud would not publish cannot send or receive through it: which, and why, in words.
        <ul data-testid="cloud-unpublished" class="field-error">
          {refused.map((u) => (
            <li key={u.device_id} data-code={u.error} data-device-id={u.device_id}>
              {u.message}
            </li>
          ))}
        </ul>
      )}
      {view && (
        <dl class="cloud-facts">
          <dt>Cloud</dt>
          <dd>
            <code data-testid="cloud-url-shown">{view.url ?? 'none'}</code>
          </dd>
          {view.email && (
            <>
              <dt>Account</dt>
              <dd data-testid="cloud-email">{view.email}</dd>
            </>
          )}
          <dt>Waiting to go out</dt>
          <dd data-testid="cloud-outbox" data-count={String(outbox)}>
            {outbox === 0 ? 'none' : outbox === 1 ? '1 message' : `${outbox} messages`}
          </dd>
          <dt>Key directory</dt>
          <dd data-testid="cloud-key-log" data-status={view.key_log.status}>
            {keyLogText(view.key_log)}
          </dd>
          <dt>Cloud key</dt>
          <dd>
            <code data-testid="cloud-key">{view.cloud_key ? `${view.cloud_key.slice(0, 16)}…` : 'not known yet'}</code>
          </dd>
          {view.token_expires_at && (
            <>
              <dt>Logged in until</dt>
              <dd>
                <span id="cloud-expires" data-testid="cloud-expires">
                  {new Date(view.token_expires_at).toLocaleString()}
                </span>
              </dd>
            </>
          )}
        </dl>
      )}
      {(status === 'not_configured' || status === 'logged_out') && (
        <form data-testid="cloud-login-form" class="stack" noValidate onSubmit={login}>
          <label for="cloud-url">Cloud address</label>
          <span class="inline-form">
            <input
              id="cloud-url"
              ref={urlInput}
              data-testid="cloud-url"
              name="url"
              type="url"
              maxlength={500}
              placeholder="https://cloud.example.org"
              autocomplete="off"
              spellcheck={false}
              value={url}
              aria-invalid={shownError?.field === 'url' ? 'true' : undefined}
              onInput={(ev) => setUrl(ev.currentTarget.value)}
            />
          </span>
          <label for="cloud-email">Your account's email</label>
          <p class="hint">All desktops signed in with one address are one household: they see each other's devices, and nobody else's.</p>
          <span class="inline-form">
            <input
              id="cloud-email"
              ref={emailInput}
              data-testid="cloud-email-input"
              name="email"
              type="email"
              maxlength={254}
              placeholder="ana@example.org"
              autocomplete="email"
              spellcheck={false}
              value={email}
              aria-invalid={shownError?.field === 'email' ? 'true' : undefined}
              onInput={(ev) => setEmail(ev.currentTarget.value)}
            />
            <button type="submit" class="primary" data-testid="cloud-login" disabled={busy}>
              Log in
            </button>
          </span>
          <ExternalSignInButtons url={url} busy={busy} onStart={signInExternal} />
        </form>
      )}
      {view && <ExternalSignInStatus view={view} busy={busy} onCancel={logout} />}
      {status === 'awaiting_code' && (
        <form data-testid="cloud-code-form" class="stack" noValidate onSubmit={confirm}>
          <label for="cloud-code">Login code from the cloud (6 digits)</label>
          <p class="hint" data-testid="cloud-code-where">
            {view?.email ? (
              <>
                The cloud mailed it to <strong data-testid="cloud-code-email">{view.email}</strong>. The mail names this desktop:{' '}
              </>
            ) : (
              'The code names this desktop: '
            )}
            <strong>
              <span data-testid="cloud-code-whose">{identity ? codeLineWhose(identity) : 'this desktop'}</span>
            </strong>
            . A cloud without a mail server (development) prints it in its log instead, where <code>npm run cloud</code> runs, on the line{' '}
            <q>one-time code for device …</q>.
          </p>
          <span class="inline-form">
            <input
              id="cloud-code"
              ref={codeInput}
              data-testid="cloud-code"
              name="code"
              class="code-input"
              inputMode="numeric"
              pattern="\d{6}"
              maxlength={6}
              autocomplete="one-time-code"
              value={code}
              aria-invalid={shownError?.field === 'code' ? 'true' : undefined}
              onInput={(ev) => setCode(ev.currentTarget.value)}
            />
            <button type="submit" class="primary" data-testid="cloud-code-submit" disabled={busy}>
              Confirm
            </button>
            <button type="button" class="secondary" data-testid="cloud-restart" disabled={busy} onClick={logout}>
              Start over
            </button>
          </span>
        </form>
      )}
      {shownError && (
        <p data-testid="cloud-form-error" class="field-error" role="alert">
          {shownError.text}
        </p>
      )}
      {loggedIn && (
        <div class="actions">
          {view?.email && (
            <button type="button" data-testid="cloud-add-passkey" class="secondary" disabled={busy} onClick={addPasskey}>
              Add a passkey
            </button>
          )}
          <button type="button" data-testid="cloud-logout" class="danger" disabled={busy} onClick={logout}>
            Log out
          </button>
        </div>
      )}
      {loggedIn && status && <Household linkStatus={status} />}
      {status === 'connected' && <Contacts />}
    </section>
  );
}
