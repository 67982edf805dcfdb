// "Turn on notifications": asks the browser once, from this click (it refuses to ask without one). Hidden
// where there is nothing to ask: already decided, the Salita window (its own notifications), or no API at all.
import { useState } from 'preact/hooks';
import { askNotifyPermission, notifyPermission } from './notifier.js';

export function NotifyButton() {
  const [permission, setPermission] = useState(notifyPermission);
  if (permission !== 'default') return null;
  return (
    <button type="button" class="link" data-testid="messages-notify" onClick={async () => setPermission(await askNotifyPermission())}>
      Turn on notifications
    </button>
  );
}
