// Contacts in the Cloud panel: other households this one may message. "Invite a household" makes a single-use
// link and QR to give them (with this desktop's fingerprint in it); a link they gave is pasted here, looked at
// (whose it is, by the fingerprint the node checked against the cloud), then accepted; a contact can be removed.
// Each contact has a safety number (household-safety-number.ts) to compare when together: digits and a QR, a
// verified mark, and a loud "changed" when the cloud lists other desktops for them than this desktop trusted.
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { AccountResponse, ContactsResponse, InviteView, NodeInviteResponse } from '../../../../shared/wire/cloud.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { errorText as message } from '../../common/messages/messaging-session.js';
import { NumberCompare } from '../../common/messages/safety-panel.js';
import { contactTrustId, householdSafetyNumber, householdTrustKey } from '../../common/trust/household-safety-number.js';
import { TrustBook } from '../../common/trust/trust-book.js';
import { useDesktop } from '../desktop-context.js';

export function Contacts() {
  const desktop = useDesktop();
  const [contacts, setContacts] = useState<ContactsResponse['contacts'] | undefined>();
  const [invite, setInvite] = useState<NodeInviteResponse | undefined>();
  const [link, setLink] = useState('');
  const [looked, setLooked] = useState<InviteView | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [account, setAccount] = useState<AccountResponse | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const [, setTrustVersion] = useState(0);
  // What this desktop trusts of each contact's desktops (localStorage, per account).
  const trust = useMemo(
    () => (account ? new TrustBook(`salita.desktop.contacts.v1.${account.account.id}`) : undefined),
    [account?.account.id],
  );
  const bump = () => setTrustVersion((v) => v + 1);

  const load = () =>
    Promise.all([desktop.client.call(NODE_ENDPOINTS.cloudContacts), desktop.client.call(NODE_ENDPOINTS.cloudAccount)]).then(
      ([r, a]) => {
        setContacts(r.contacts);
        setAccount(a);
      },
      (err) => setError(`Could not read the contacts: ${message(err)}`),
    );
  useEffect(() => {
    if (trust && contacts && trust.observe(contacts.map((c) => [contactTrustId(c.account_id), householdTrustKey(c.node_keys)] as const)))
      bump();
  }, [trust, contacts]);
  useEffect(() => void load(), []);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };

  const makeInvite = () =>
    void run(async () => {
      setInvite(await desktop.client.call(NODE_ENDPOINTS.cloudInvite));
    });
  const look = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      setLooked(await desktop.client.call(NODE_ENDPOINTS.cloudAcceptInvite, { body: { link, dry_run: true } }));
    });
  };
  const accept = () =>
    void run(async () => {
      await desktop.client.call(NODE_ENDPOINTS.cloudAcceptInvite, { body: { link } });
      setLooked(undefined);
      setLink('');
      await load();
    });
  const remove = (accountId: string) =>
    void run(async () => {
      await desktop.client.call(NODE_ENDPOINTS.cloudRemoveContact, { params: { account_id: accountId } });
      await load();
    });

  return (
    <div data-testid="contacts" class="stack">
      <h3>Contacts</h3>
      <p class="hint">Other households you can message. Each one joins by an invite you give them, or one they give you.</p>
      {contacts && contacts.length === 0 && <p class="hint">No contacts yet.</p>}
      {contacts && contacts.length > 0 && (
        <ul class="device-list">
          {contacts.map((c) => {
            const id = contactTrustId(c.account_id);
            const t = trust?.of(id);
            const key = householdTrustKey(c.node_keys);
            const who = c.email ?? 'a household';
            const number =
              open === c.account_id && account
                ? householdSafetyNumber(
                    { accountId: account.account.id, nodeKeys: account.nodes.map((n) => n.node) },
                    { accountId: c.account_id, nodeKeys: c.node_keys },
                  )
                : undefined;
            return (
              <li key={c.account_id} data-testid="contact" data-account={c.account_id} class="stack">
                <span>
                  {who} · {c.nodes === 1 ? '1 desktop' : `${c.nodes} desktops`}
                  {t?.verified && !t.changed ? ' · ✓ verified' : ''}
                </span>
                {t?.changed && (
                  <div class="banner warning" role="alert" data-testid="contact-safety-changed">
                    <strong>The safety number with {who} changed.</strong> The cloud now lists other desktops for them: they added or
                    removed one, or someone is in between. Compare the new number with them before you trust it.{' '}
                    <button
                      type="button"
                      data-testid="contact-safety-accept"
                      onClick={() => {
                        trust?.accept(id);
                        bump();
                      }}
                    >
                      Accept the new number
                    </button>
                  </div>
                )}
                <span class="actions">
                  <button
                    type="button"
                    class="secondary"
                    data-testid="contact-safety-open"
                    aria-expanded={open === c.account_id}
                    onClick={() => setOpen(open === c.account_id ? undefined : c.account_id)}
                  >
                    {open === c.account_id ? 'Hide the safety number' : 'Safety number'}
                  </button>
                  <button type="button" class="secondary" data-testid="contact-remove" disabled={busy} onClick={() => remove(c.account_id)}>
                    Remove
                  </button>
                </span>
                {open === c.account_id &&
                  (number ? (
                    <NumberCompare
                      label={`Your household's safety number with ${who}`}
                      testid="contact-safety"
                      number={number}
                      trust={t}
                      onVerify={(v) => {
                        trust?.setVerified(id, key, v);
                        bump();
                      }}
                    />
                  ) : (
                    <p class="hint" data-testid="contact-safety-none">
                      No safety number yet: one of the two households has no desktop signed in.
                    </p>
                  ))}
              </li>
            );
          })}
        </ul>
      )}
      <div class="actions">
        <button type="button" class="secondary" data-testid="contact-invite" disabled={busy} onClick={makeInvite}>
          Invite a household
        </button>
      </div>
      {invite && (
        <div data-testid="contact-invite-shown" class="stack">
          <p class="hint">
            Give them this link once (or let them scan it). It works one time, until {new Date(invite.expires_at).toLocaleString()}. It
            names this desktop by its fingerprint <strong>{invite.fingerprint}</strong>: their desktop checks it.
          </p>
          <img class="qr" alt="Invite QR code" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(invite.qr_svg)}`} />
          <code data-testid="contact-invite-link">{invite.link}</code>
        </div>
      )}
      <form class="stack" noValidate onSubmit={look}>
        <label for="contact-link">An invite link you were given</label>
        <span class="inline-form">
          <input
            id="contact-link"
            data-testid="contact-link"
            type="url"
            maxlength={1000}
            autocomplete="off"
            spellcheck={false}
            value={link}
            placeholder="https://cloud.example.org/invite#…"
            onInput={(ev) => {
              setLink(ev.currentTarget.value);
              setLooked(undefined);
            }}
          />
          <button type="submit" class="secondary" data-testid="contact-look" disabled={busy || !link.trim()}>
            Check
          </button>
        </span>
      </form>
      {looked && (
        <div data-testid="contact-looked" class="banner">
          <span>
            From <strong>{looked.email ?? 'a household'}</strong>, desktop fingerprint <strong>{looked.fingerprint}</strong>. If they are
            who you expect (ask them for the fingerprint their Cloud panel shows), accept.
          </span>{' '}
          <button type="button" class="primary" data-testid="contact-accept" disabled={busy} onClick={accept}>
            Accept
          </button>
        </div>
      )}
      {error && (
        <p class="field-error" role="alert" data-testid="contacts-error">
          {error}
        </p>
      )}
    </div>
  );
}
