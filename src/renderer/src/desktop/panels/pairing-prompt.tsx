// The other side of a pair request: "Accept pairing from <name>?" with the code both screens show and the
// requester's fingerprint. Accept stores the other desktop as paired; Decline drops the request, and the other
// desktop learns either by itself (docs/protocol.md, "Pair requests"). Rendered from the pushed state only.
import { useState } from 'preact/hooks';
import type { ApiClient } from '../../../../shared/client/api-client.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import type { AdminState, PendingPairingView } from '../../../../shared/wire/schemas.js';
import { groupDigits } from '../../common/dom.js';

export interface PairingPromptsProps {
  state: AdminState;
  client: ApiClient;
}

export function PairingPrompts({ state, client }: PairingPromptsProps) {
  const incoming = state.pending_pairings.filter((p) => p.direction === 'incoming');
  if (incoming.length === 0) return null;
  return (
    <section aria-labelledby="pairing-prompts-heading" class="card pairing-prompts">
      <h2 id="pairing-prompts-heading">Pairing requests</h2>
      <ul class="rows">
        {incoming.map((p) => (
          <Prompt key={p.pairing_id} pending={p} client={client} />
        ))}
      </ul>
    </section>
  );
}

function Prompt({ pending: p, client }: { pending: PendingPairingView; client: ApiClient }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const act = (ep: typeof NODE_ENDPOINTS.confirmPairing | typeof NODE_ENDPOINTS.rejectPairing) => {
    setBusy(true);
    setError(undefined);
    // On success the next state push drops this row; until then it stays, disabled.
    client.call(ep, { params: { id: p.pairing_id } }).then(
      () => undefined,
      (err: Error) => {
        setBusy(false);
        setError(err.message);
      },
    );
  };
  return (
    <li class="row" data-testid="pending-pairing" data-pairing-id={p.pairing_id}>
      <span class="row-main">
        <span class="row-title">Accept pairing from {p.name}?</span>
        <span class="row-details">
          Check that {p.name} shows the code <strong class="sas">{groupDigits(p.sas)}</strong>
        </span>
        <span class="row-details">Fingerprint {p.fingerprint}</span>
        {error !== undefined && (
          <span class="field-error" role="alert">
            {error}
          </span>
        )}
      </span>
      <span class="row-actions">
        <button
          type="button"
          class="primary"
          data-testid="pairing-prompt-accept"
          disabled={busy}
          onClick={() => act(NODE_ENDPOINTS.confirmPairing)}
        >
          Accept
        </button>
        <button
          type="button"
          class="danger"
          data-testid="pairing-prompt-decline"
          disabled={busy}
          onClick={() => act(NODE_ENDPOINTS.rejectPairing)}
        >
          Decline
        </button>
      </span>
    </li>
  );
}
