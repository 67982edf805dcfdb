// The "Cloud" panel: log this node in to a cloud (URL, then the 6-digit code the cloud sent), see the link's
// status in words, its last problem (a changed cloud key is a loud warning), the devices the cloud refused to
// publish, how many messages wait to go out, and log out. Follows GET /api/admin/cloud, the answers of each
// action and the admin `cloud` pushes.
import type { CloudLinkStatus, CloudLinkView } from '../../../shared/wire/relay.js';
import { byId, setText } from '../common/dom.js';
import { type AdminApi, ApiFailure } from './api.js';

export function cloudStatusText(v: CloudLinkView): string {
  switch (v.status) {
    case 'not_configured':
      return 'Not set up';
    case 'logged_out':
      return 'Logged out';
    case 'awaiting_code':
      return 'Waiting for the code';
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

/** What the cloud's log line names this desktop by: the name and fingerprint this page shows at the top. */
export function codeLineWhose(identity: { name: string; fingerprint: string }): string {
  return `node ${JSON.stringify(identity.name)}, fingerprint ${identity.fingerprint}`;
}

/** Plain words for the codes the login can fail with (the cloud's own message otherwise). */
function loginErrorText(err: unknown): string {
  if (!(err instanceof ApiFailure)) return err instanceof Error ? err.message : String(err);
  // A refusal by the cloud itself comes as cloud_rejected with the cloud's code in `cloud_error`.
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

export class CloudPanel {
  private view: CloudLinkView | undefined;
  private busy = false;
  /** Counts `cloud` pushes. The pushes come in order; an HTTP answer may overtake them, so an answer is shown
   * only when no push came while it was on its way (else it may be older than what the push showed). */
  private pushes = 0;
  private readonly urlInput = byId<HTMLInputElement>('cloud-url');
  private readonly codeInput = byId<HTMLInputElement>('cloud-code');
  private readonly formError = byId('cloud-form-error');
  /** The code of the failure shown next to the form: the link's "last problem" is not said a second time. */
  private formErrorCode: string | undefined;

  constructor(
    private readonly api: () => AdminApi,
    private readonly identity: () => { name: string; fingerprint: string } | undefined,
  ) {
    byId<HTMLFormElement>('cloud-login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const url = this.urlInput.value.trim();
      if (!/^https?:\/\/\S+$/i.test(url)) return this.fieldError("Type the cloud's address, like https://cloud.example.org", this.urlInput);
      void this.act('/api/admin/cloud/login', { url });
    });
    byId<HTMLFormElement>('cloud-code-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const code = this.codeInput.value.replace(/\s/g, '');
      if (!/^\d{6}$/.test(code))
        return this.fieldError("The code is 6 digits, from the cloud's log line for this desktop.", this.codeInput);
      void this.act('/api/admin/cloud/code', { code }).then((ok) => {
        if (ok) this.codeInput.value = '';
      });
    });
    byId('cloud-restart').addEventListener('click', () => void this.act('/api/admin/cloud/logout', {}));
    byId('cloud-logout').addEventListener('click', () => void this.act('/api/admin/cloud/logout', {}));
  }

  async load(): Promise<void> {
    try {
      const seen = this.pushes;
      const v = await this.api().call<CloudLinkView>('GET', '/api/admin/cloud');
      if (seen === this.pushes) this.render(v);
    } catch (err) {
      byId('cloud-panel').dataset.unavailable = 'true';
      setText(byId('cloud-status'), err instanceof ApiFailure && err.status === 404 ? 'Not available on this node yet' : 'Unknown');
      this.fieldError(err instanceof ApiFailure && err.status === 404 ? undefined : loginErrorText(err));
    }
  }

  /** Where to find the code names this desktop as it is now (a rename changes the next code's log line). */
  showIdentity(): void {
    const me = this.identity();
    setText(byId('cloud-code-whose'), me ? codeLineWhose(me) : 'this desktop');
  }

  /** The admin `cloud` push. */
  onPush(cloud: CloudLinkView): void {
    this.pushes++;
    this.render(cloud);
  }

  private async act(path: string, body: unknown): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    this.fieldError(undefined);
    for (const b of document.querySelectorAll<HTMLButtonElement>('#cloud-panel button')) b.disabled = true;
    try {
      const seen = this.pushes;
      const v = await this.api().call<CloudLinkView>('POST', path, body);
      if (seen === this.pushes) this.render(v);
      return true;
    } catch (err) {
      this.fieldError(loginErrorText(err), path.endsWith('/code') ? this.codeInput : path.endsWith('/login') ? this.urlInput : undefined);
      this.formErrorCode = failureCode(err);
      // A push with this failure as the link's last problem may have come first: say it once, here.
      if (this.view) this.render(this.view);
      return false;
    } finally {
      this.busy = false;
      for (const b of document.querySelectorAll<HTMLButtonElement>('#cloud-panel button')) b.disabled = false;
    }
  }

  private fieldError(text: string | undefined, focus?: HTMLInputElement): void {
    this.formErrorCode = undefined;
    setText(this.formError, text ?? '');
    this.formError.hidden = !text;
    this.urlInput.removeAttribute('aria-invalid');
    this.codeInput.removeAttribute('aria-invalid');
    if (text && focus) {
      focus.setAttribute('aria-invalid', 'true');
      focus.focus();
    }
  }

  private render(v: CloudLinkView): void {
    const before = this.view?.status;
    this.view = v;
    const panel = byId('cloud-panel');
    panel.dataset.status = v.status;
    delete panel.dataset.unavailable;
    const status = byId('cloud-status');
    setText(status, cloudStatusText(v));
    status.dataset.status = STATUS_DOT[v.status] ?? 'offline';

    const loggedIn = v.status === 'connecting' || v.status === 'connected' || v.status === 'reconnecting';
    byId('cloud-login-form').hidden = v.status !== 'not_configured' && v.status !== 'logged_out';
    byId('cloud-code-form').hidden = v.status !== 'awaiting_code';
    byId('cloud-logout').hidden = !loggedIn;
    if (v.status === 'awaiting_code' && before !== 'awaiting_code') this.codeInput.focus();
    if (!this.urlInput.value && v.url) this.urlInput.value = v.url;
    this.showIdentity();

    setText(byId('cloud-url-shown'), v.url ?? 'none');
    setText(byId('cloud-outbox'), v.outbox === 0 ? 'none' : v.outbox === 1 ? '1 message' : `${v.outbox} messages`);
    byId('cloud-outbox').dataset.count = String(v.outbox);
    setText(byId('cloud-key'), v.cloud_key ? `${v.cloud_key.slice(0, 16)}…` : 'not known yet');
    setText(byId('cloud-expires'), v.token_expires_at ? new Date(v.token_expires_at).toLocaleString() : '—');
    byId('cloud-expires-row').hidden = byId('cloud-expires').parentElement!.hidden = !v.token_expires_at;

    // Devices the cloud would not publish cannot send or receive through it: say which, and why, in words.
    const unpublished = byId('cloud-unpublished');
    const refused = v.unpublished ?? [];
    unpublished.replaceChildren(
      ...refused.map((u) => {
        const li = document.createElement('li');
        li.textContent = u.message;
        li.dataset.code = u.error;
        li.dataset.deviceId = u.device_id;
        return li;
      }),
    );
    unpublished.hidden = refused.length === 0;

    const e = v.last_error;
    const warning = byId('cloud-warning');
    const problem = byId('cloud-problem');
    if (e && e.code === 'cloud_key_changed') {
      setText(
        byId('cloud-warning-text'),
        `The cloud at ${v.url ?? 'this address'} answered with a different key than the one this desktop knows. ` +
          'Someone may be pretending to be your cloud, so Salita stopped talking to it. If you did not reinstall or ' +
          `move your cloud yourself, do not log in again. Details (${new Date(e.at).toLocaleString()}): ${e.message}`,
      );
      warning.hidden = false;
      problem.hidden = true;
    } else {
      warning.hidden = true;
      setText(problem, e ? `Last problem (${new Date(e.at).toLocaleString()}): ${e.message}` : '');
      problem.dataset.code = e?.code ?? '';
      problem.hidden = !e || (!this.formError.hidden && e.code === this.formErrorCode);
    }
  }
}
