// The top bar: this node's name (renamed in place), its fingerprint, the Network toggle and the socket's health.
import { useEffect, useRef, useState } from 'preact/hooks';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import { useStore } from '../../common/store.js';
import type { SocketStatus } from '../admin-socket.js';
import { useDesktop } from '../desktop-context.js';

function statusText(s: SocketStatus): string {
  if (s.kind === 'live') return 'Live';
  if (s.kind === 'connecting') return 'Connecting…';
  return `Connection lost; retrying in ${Math.ceil(s.inMs / 1000)} s…`;
}

export function IdentityHeader({ networkOpen, onToggleNetwork }: { networkOpen: boolean; onToggleNetwork: () => void }) {
  const desktop = useDesktop();
  const identity = useStore(desktop.store, (s) => s.admin?.identity);
  const socket = useStore(desktop.store, (s) => s.socket);
  const [renaming, setRenaming] = useState(false);
  const [draft, setDraft] = useState('');
  const [saving, setSaving] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const renameButton = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (identity) document.title = `Salita: ${identity.name}`;
  }, [identity?.name]);

  useEffect(() => {
    if (renaming) {
      input.current?.focus();
      input.current?.select();
    }
  }, [renaming]);

  const open = () => {
    if (!identity) return;
    setDraft(identity.name);
    setRenaming(true);
  };
  const close = () => {
    setRenaming(false);
    // Keep keyboard users where they were.
    queueMicrotask(() => renameButton.current?.focus());
  };
  const save = (e: Event) => {
    e.preventDefault();
    const name = draft.trim();
    if (!name || saving) return;
    setSaving(true);
    desktop.client
      .call(NODE_ENDPOINTS.renameNode, { body: { name } })
      .then(
        () => {
          // The state push that follows carries the new name to every panel.
          desktop.clearError();
          close();
        },
        (err) => desktop.showError(err),
      )
      .finally(() => setSaving(false));
  };

  return (
    <header class="top">
      <div class="identity">
        {renaming ? (
          <form class="inline-form" onSubmit={save}>
            <label for="rename-input" class="sr-only">
              Node name
            </label>
            <input
              id="rename-input"
              ref={input}
              name="name"
              maxlength={64}
              required
              autocomplete="off"
              value={draft}
              onInput={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape') close();
              }}
            />
            <button type="submit" disabled={saving}>
              Save
            </button>
            <button type="button" class="secondary" onClick={close}>
              Cancel
            </button>
          </form>
        ) : (
          <h1>
            <span data-testid="node-name" class="node-name">
              {identity?.name ?? 'Salita'}
            </span>
            <button type="button" ref={renameButton} class="link" aria-label="Rename this node" onClick={open}>
              Rename
            </button>
          </h1>
        )}
        <p class="fingerprint">
          Fingerprint <code data-testid="node-fingerprint">{identity?.fingerprint ?? '…'}</code>
        </p>
      </div>
      <div class="top-actions">
        <button
          type="button"
          data-testid="open-network"
          class="secondary"
          aria-expanded={networkOpen}
          aria-controls="network-panel"
          onClick={onToggleNetwork}
        >
          Network
        </button>
        <p id="conn-status" class="conn" role="status" aria-live="polite" data-state={socket.kind}>
          {statusText(socket)}
        </p>
      </div>
    </header>
  );
}
