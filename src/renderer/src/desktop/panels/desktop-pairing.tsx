// "Other Salita desktops nearby": pick a discovered desktop (or type its address, or paste its pairing link) and
// press Pair; nothing else to type. The node sends a pair request and the other desktop's person accepts it
// (docs/protocol.md, "Pair requests"). What became of the request is shown next to the form, from the pushed
// admin state only: waiting (with the code the other screen shows), accepted, declined/expired, or failed.
import { useState } from 'preact/hooks';
import { type ApiClient, ApiFailure } from '../../../../shared/client/api-client.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import type { PairRequestCreate } from '../../../../shared/wire/pair-request.js';
import type { AdminState, PendingPairingView } from '../../../../shared/wire/schemas.js';
import { groupDigits } from '../../common/dom.js';
import { parseManualTarget } from '../manual-pair.js';

export interface DesktopPairingProps {
  state: AdminState;
  client: ApiClient;
}

/** The request this screen sent last: its id and whom it went to (to say "paired" once its entry is gone). */
interface Sent {
  pairingId: string;
  nodeId: string;
  name: string;
}

type Phase = { kind: 'idle' } | { kind: 'sending'; to: string } | { kind: 'sent'; sent: Sent } | { kind: 'failed'; message: string };

export function DesktopPairing({ state, client }: DesktopPairingProps) {
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [target, setTarget] = useState('');
  const [formError, setFormError] = useState<string | undefined>(undefined);

  const send = async (body: PairRequestCreate, to: string) => {
    setPhase({ kind: 'sending', to });
    try {
      const r = await client.call(NODE_ENDPOINTS.pairRequest, { body });
      setPhase({ kind: 'sent', sent: { pairingId: r.pending.pairing_id, nodeId: r.pending.node_id, name: r.pending.name } });
    } catch (err) {
      setPhase({ kind: 'failed', message: err instanceof ApiFailure || err instanceof Error ? err.message : String(err) });
    }
  };

  const onSubmit = (e: Event) => {
    e.preventDefault();
    const t = parseManualTarget(target);
    if (t.kind === 'error') {
      setFormError(t.message);
      return;
    }
    setFormError(undefined);
    if (t.kind === 'url') void send({ url: t.url }, 'that desktop');
    else void send({ host: t.host, port: t.port }, `${t.host}:${t.port}`);
  };

  const dismiss = (id: string) => {
    void client.call(NODE_ENDPOINTS.rejectPairing, { params: { id } }).then(
      () => setPhase({ kind: 'idle' }),
      (err: Error) => setPhase({ kind: 'failed', message: err.message }),
    );
  };

  const nearby = state.discovered.filter((n) => !n.paired);
  const busy = phase.kind === 'sending';
  const entry = phase.kind === 'sent' ? state.pending_pairings.find((p) => p.pairing_id === phase.sent.pairingId) : undefined;

  return (
    <section aria-labelledby="discovered-heading" class="card desktop-pairing">
      <h2 id="discovered-heading">Other Salita desktops nearby</h2>
      <ul data-testid="discovered-list" class="rows">
        {nearby.map((n) => (
          <li key={n.node_id} class="row" data-testid="discovered-node" data-node-id={n.node_id}>
            <span class="row-main">
              <span class="row-title">{n.name}</span>
              <span class="row-details">
                {n.host}:{n.port} · fingerprint {n.fingerprint}
              </span>
            </span>
            <span class="row-actions">
              <button
                type="button"
                class="secondary"
                data-testid="discovered-pair"
                disabled={busy}
                onClick={() => void send({ host: n.host, port: n.port, fingerprint: n.fingerprint }, n.name)}
              >
                Pair
              </button>
            </span>
          </li>
        ))}
      </ul>
      {nearby.length === 0 && <p class="empty">None found on this network.</p>}
      <form data-testid="manual-pair" class="stack" noValidate onSubmit={onSubmit}>
        <label for="manual-pair-target">Not listed? The other desktop's address (host:port) or its pairing link</label>
        <input
          id="manual-pair-target"
          data-testid="manual-pair-target"
          name="target"
          required
          placeholder="192.168.1.20:6969 or http://192.168.1.20:6969/pair?…"
          autocomplete="off"
          spellcheck={false}
          value={target}
          onInput={(e) => setTarget((e.currentTarget as HTMLInputElement).value)}
        />
        <p data-testid="manual-pair-error" class="field-error" role="alert" hidden={formError === undefined}>
          {formError ?? ''}
        </p>
        <button type="submit" data-testid="manual-pair-submit" disabled={busy}>
          Pair
        </button>
      </form>
      <RequestStatus phase={phase} entry={entry} state={state} onDismiss={dismiss} />
    </section>
  );
}

function RequestStatus(props: { phase: Phase; entry: PendingPairingView | undefined; state: AdminState; onDismiss(id: string): void }) {
  const { phase, entry, state } = props;
  if (phase.kind === 'idle') return null;
  if (phase.kind === 'sending') {
    return (
      <p data-testid="pair-request-status" data-state="sending" class="banner" role="status">
        Asking {phase.to} to pair…
      </p>
    );
  }
  if (phase.kind === 'failed') {
    return (
      <p data-testid="pair-request-status" data-state="failed" class="banner error" role="alert">
        Could not pair: {phase.message}
      </p>
    );
  }
  const { sent } = phase;
  if (!entry) {
    // The entry goes away when the other desktop accepted (the node then lists it as paired), or when dismissed.
    const paired = state.devices.some((d) => d.node_id === sent.nodeId);
    return paired ? (
      <p data-testid="pair-request-status" data-state="accepted" class="banner ok" role="status">
        Paired with {sent.name}.
      </p>
    ) : null;
  }
  if (entry.status === 'declined' || entry.status === 'expired' || entry.status === 'failed') {
    return (
      <p data-testid="pair-request-status" data-state={entry.status} class="banner error" role="status">
        {entry.message ?? `${entry.name} did not accept.`}{' '}
        <button type="button" class="secondary" onClick={() => props.onDismiss(entry.pairing_id)}>
          OK
        </button>
      </p>
    );
  }
  return (
    <div data-testid="pair-request-status" data-state="waiting" class="banner" role="status">
      <p>
        Waiting for {entry.name} to accept. {entry.name} shows the code <strong class="sas">{groupDigits(entry.sas)}</strong>.
      </p>
      {entry.fingerprint_pinned === false && (
        <p class="hint">
          Check that {entry.name}'s fingerprint is {entry.fingerprint}.
        </p>
      )}
      <button type="button" class="secondary" onClick={() => props.onDismiss(entry.pairing_id)}>
        Cancel
      </button>
    </div>
  );
}
