// The household in the Cloud panel: every node logged in to this desktop's account, whether it is connected, and
// the devices it publishes; removing another node (asked twice: it is signed out and its devices leave the
// household) and signing every node out. Read from the node's admin API, which asks the cloud with its token.
import { useEffect, useState } from 'preact/hooks';
import type { AccountResponse } from '../../../../shared/wire/cloud.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { errorText as message } from '../../common/messages/messaging-session.js';
import { useDesktop } from '../desktop-context.js';

/** `linkStatus` changes (connected again, logged out) read the household again. */
export function Household({ linkStatus }: { linkStatus: string }) {
  const desktop = useDesktop();
  const [account, setAccount] = useState<AccountResponse | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [asking, setAsking] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const load = () =>
    desktop.client.call(NODE_ENDPOINTS.cloudAccount).then(
      (a) => {
        setAccount(a);
        setError(undefined);
      },
      (err) => setError(`Could not read the household: ${message(err)}`),
    );

  useEffect(() => {
    if (linkStatus === 'connected') void load();
  }, [linkStatus]);

  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await action();
      setAsking(undefined);
      await load();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };

  if (!account)
    return error ? (
      <p class="field-error" data-testid="household-error">
        {error}
      </p>
    ) : null;
  return (
    <div data-testid="household" class="stack">
      <h3>Your household</h3>
      <p class="hint">
        The desktops signed in as <strong>{account.account.email ?? 'this cloud’s shared login'}</strong>. They see each other's devices;
        nobody else sees them.
      </p>
      <ul class="device-list">
        {account.nodes.map((n) => (
          <li key={n.node} data-testid="household-node" data-node={n.node} data-self={n.self ? 'true' : undefined}>
            <span class="status" data-status={n.connected ? 'online' : 'offline'}>
              {n.name ?? 'Unnamed desktop'}
              {n.self ? ' (this desktop)' : ''} · {n.connected ? 'connected' : 'not connected'}
            </span>
            <span class="hint">{n.devices.length === 0 ? ' no devices' : ` ${n.devices.map((d) => d.name).join(', ')}`}</span>
            {!n.self &&
              (asking === n.node ? (
                <span class="inline-form">
                  <span>Sign it out and take its devices out of the household?</span>
                  <button
                    type="button"
                    class="danger"
                    data-testid="household-remove-confirm"
                    disabled={busy}
                    onClick={() => void run(() => desktop.client.call(NODE_ENDPOINTS.cloudRemoveNode, { params: { node: n.node } }))}
                  >
                    Remove
                  </button>
                  <button type="button" class="secondary" disabled={busy} onClick={() => setAsking(undefined)}>
                    Cancel
                  </button>
                </span>
              ) : (
                <button type="button" class="secondary" data-testid="household-remove" disabled={busy} onClick={() => setAsking(n.node)}>
                  Remove…
                </button>
              ))}
          </li>
        ))}
      </ul>
      {asking === '*' ? (
        <span class="inline-form">
          <span>Every desktop of this account, this one too, must then sign in again with a new code.</span>
          <button
            type="button"
            class="danger"
            data-testid="household-sign-out-confirm"
            disabled={busy}
            onClick={() => void run(() => desktop.client.call(NODE_ENDPOINTS.cloudSignOutEverywhere))}
          >
            Sign out everywhere
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => setAsking(undefined)}>
            Cancel
          </button>
        </span>
      ) : (
        <div class="actions">
          <button type="button" class="secondary" data-testid="household-sign-out" disabled={busy} onClick={() => setAsking('*')}>
            Sign out everywhere…
          </button>
        </div>
      )}
      {error && (
        <p class="field-error" role="alert" data-testid="household-error">
          {error}
        </p>
      )}
    </div>
  );
}
