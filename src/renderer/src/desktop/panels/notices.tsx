// Notices the node keeps for the person (a device paired again after a reinstall, a desktop that unpaired this
// one), each with a Dismiss that the node remembers.
import { useState } from 'preact/hooks';
import { ApiFailure } from '../../../../shared/client/api-client.js';
import { NODE_ENDPOINTS } from '../../../../shared/wire/node-endpoints.js';
import type { NoticeView } from '../../../../shared/wire/schemas.js';
import { useStore } from '../../common/store.js';
import { useDesktop } from '../desktop-context.js';

function noticeText(n: NoticeView): string {
  return n.type === 'peer_unpaired'
    ? `${n.name} unpaired this desktop: messages no longer go to it or its devices.`
    : `${n.name} was paired again (reinstalled?): the old entry was replaced.`;
}

export function Notices() {
  const desktop = useDesktop();
  const notices = useStore(desktop.store, (s) => s.admin?.notices);
  /** Hidden at once, before the node's next state push agrees. */
  const [dismissed, setDismissed] = useState<ReadonlySet<string>>(new Set());
  const dismiss = (n: NoticeView) => {
    setDismissed((d) => new Set([...d, n.id]));
    desktop.client.call(NODE_ENDPOINTS.dismissNotice, { params: { id: n.id } }).catch((err) => {
      // Already gone on the node (restarted, or older than the last 20): nothing left to dismiss.
      if (err instanceof ApiFailure && err.status === 404) return;
      setDismissed((d) => new Set([...d].filter((id) => id !== n.id))); // not dismissed after all
      desktop.showError(err);
    });
  };
  return (
    <div data-testid="notices" aria-live="polite">
      {(notices ?? [])
        .filter((n) => !dismissed.has(n.id))
        .map((n) => (
          <div key={n.id} class="banner notice" role="status" data-testid="notice" data-notice-id={n.id} data-type={n.type}>
            <span>{noticeText(n)}</span>
            <button
              type="button"
              class="link"
              data-testid="notice-dismiss"
              aria-label={`Dismiss: ${noticeText(n)}`}
              onClick={() => dismiss(n)}
            >
              Dismiss
            </button>
          </div>
        ))}
    </div>
  );
}
