// "Paired devices": each paired phone and desktop with its icon, presence, when it was last seen and its
// fingerprint; Unpair asks once; a desktop that ended the pairing itself is said so, with a Remove.
import { useEffect, useRef, useState } from 'preact/hooks';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import type { MeshNodeView, NodeStatus } from '../../../../shared/wire/schemas.js';
import { DeviceIcon, deviceShape, shapeLabel } from '../../common/device-icon.js';
import { relativeTime } from '../../common/dom.js';
import { useStore } from '../../common/store.js';
import { useNow } from '../../common/use-now.js';
import { useDesktop } from '../desktop-context.js';

const STATUS_LABEL: Record<NodeStatus, string> = { online: 'Online', degraded: 'Degraded', offline: 'Offline' };
const STATUS_ORDER: Record<NodeStatus, number> = { online: 0, degraded: 1, offline: 2 };

function DeviceRow({ d, now, onGone }: { d: MeshNodeView; now: number; onGone: (row: HTMLLIElement | null) => void }) {
  const desktop = useDesktop();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const row = useRef<HTMLLIElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const unpairButton = useRef<HTMLButtonElement>(null);
  const shape = deviceShape(d.kind, d.metadata);
  const endedAt = d.ended_by_peer_at ?? null;

  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  const forget = () => {
    setBusy(true);
    desktop.client.call(NODE_ENDPOINTS.unpairNode, { params: { node_id: d.node_id } }).then(
      () => {
        desktop.clearError();
        onGone(row.current);
      },
      (err) => {
        setBusy(false);
        desktop.showError(err);
      },
    );
  };

  return (
    <li
      ref={row}
      class="row"
      data-testid="device-row"
      data-node-id={d.node_id}
      data-status={d.status}
      data-ended={String(endedAt !== null)}
    >
      <span class="row-icon">
        <DeviceIcon shape={shape} />
      </span>
      <span class="row-main">
        <span class="row-title">{d.name}</span>
        {endedAt === null ? (
          <span
            class="status"
            data-role="status"
            data-status={d.status}
            title={
              d.status === 'degraded' ? 'Missed its recent heartbeats: the connection is unsteady, or the device is going away.' : undefined
            }
          >
            {STATUS_LABEL[d.status]}
          </span>
        ) : (
          // Said in words instead of a presence dot: "offline" would suggest it may come back.
          <span class="row-details ended" data-testid="ended-by-peer" title={new Date(endedAt).toLocaleString()}>
            {`${d.name} unpaired this desktop ${relativeTime(endedAt, now)}.`}
          </span>
        )}
        <span class="row-details">
          <span>{shapeLabel(shape)}</span> ·{' '}
          <span data-testid="last-seen" title={d.last_seen ? new Date(d.last_seen).toLocaleString() : undefined}>
            {`last seen ${relativeTime(d.last_seen, now)}`}
          </span>
          {d.fingerprint && <span class="sep-before">{d.fingerprint}</span>}
        </span>
      </span>
      <span class="row-actions">
        {endedAt !== null ? (
          <button
            type="button"
            class="secondary"
            data-testid="remove-button"
            aria-label={`Remove ${d.name} from this list`}
            disabled={busy}
            onClick={forget}
          >
            Remove
          </button>
        ) : confirming ? (
          <span class="confirm">
            <span>{`Unpair ${d.name}? It will have to pair again.`}</span>
            <button type="button" ref={confirmButton} class="danger" data-testid="unpair-confirm" disabled={busy} onClick={forget}>
              Yes, unpair
            </button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setConfirming(false);
                queueMicrotask(() => unpairButton.current?.focus());
              }}
            >
              Cancel
            </button>
          </span>
        ) : (
          <button
            type="button"
            ref={unpairButton}
            class="danger"
            data-testid="unpair-button"
            aria-label={`Unpair ${d.name}`}
            onClick={() => setConfirming(true)}
          >
            Unpair
          </button>
        )}
      </span>
    </li>
  );
}

export function DeviceList() {
  const desktop = useDesktop();
  const devices = useStore(desktop.store, (s) => s.admin?.devices);
  const now = useNow(30_000);
  /** Removed here at once, before the node's next state push agrees (immediate feedback). */
  const [gone, setGone] = useState<ReadonlySet<string>>(new Set());
  const heading = useRef<HTMLHeadingElement>(null);
  // Once the node's push agrees, forget the local removal (a device paired again under the same id shows).
  useEffect(() => {
    setGone((g) => (g.size === 0 ? g : new Set([...g].filter((id) => devices?.some((d) => d.node_id === id)))));
  }, [devices]);
  // Desktops that ended the pairing first: they ask for the person's attention (and a Remove).
  const rank = (d: MeshNodeView) => (d.ended_by_peer_at ? -1 : STATUS_ORDER[d.status]);
  const list = (devices ?? []).filter((d) => !gone.has(d.node_id)).sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));

  const onGone = (id: string, row: HTMLLIElement | null) => {
    // The focused button goes with its row: keep keyboard and screen-reader users in the list.
    const next = (row?.nextElementSibling ?? row?.previousElementSibling)?.querySelector<HTMLButtonElement>('button');
    setGone((g) => new Set([...g, id]));
    queueMicrotask(() => (next ? next.focus() : heading.current?.focus()));
  };

  return (
    <section aria-labelledby="devices-heading" class="card">
      <h2 id="devices-heading" ref={heading} tabindex={-1}>
        Paired devices
      </h2>
      <ul data-testid="device-list" class="rows" aria-live="polite">
        {list.map((d) => (
          <DeviceRow key={d.node_id} d={d} now={now} onGone={(row) => onGone(d.node_id, row)} />
        ))}
      </ul>
      {list.length === 0 && <p class="empty">{devices ? 'No paired devices yet.' : 'Loading…'}</p>}
    </section>
  );
}
