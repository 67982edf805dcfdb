// Shown instead of everything else while the page has no valid admin token: an empty UI would lie.
import { useEffect } from 'preact/hooks';
import type { LockReason } from '../desktop-store.js';

export function Locked({ reason }: { reason: LockReason }) {
  useEffect(() => {
    document.title = 'Salita: open the desktop UI with its link';
  }, []);
  return (
    <main id="locked" data-testid="admin-locked" class="card locked">
      <h1 data-testid="admin-locked-heading">
        {reason === 'bad-token' ? 'This desktop UI link has expired' : 'Open the desktop UI with its link'}
      </h1>
      {reason === 'no-token' ? (
        <p>
          This is the desktop UI of a Salita node. It opens only through its own link, which ends in <code>#admin=…</code>, and works only
          on the machine the node runs on.
        </p>
      ) : (
        <p>This link is no longer valid: the node was restarted (every start makes a new link), or the link was cut or mistyped.</p>
      )}
      <h2>Where the link is</h2>
      <ul>
        <li>
          <strong>Desktop app:</strong> open Salita; its window is this UI.
        </li>
        <li>
          <strong>Headless node</strong> (<code>npm run headless</code>): printed in its terminal, on the line <code>Desktop UI:</code>.
        </li>
        <li>
          <strong>A new link</strong> for a running node, on this machine:{' '}
          <code>npm run headless -- --admin-url --data-dir &lt;the node's data dir&gt;</code> prints it (add <code>--open</code> to open
          it). Start a node with <code>--open</code> to have it open this page itself.
        </li>
      </ul>
    </main>
  );
}
