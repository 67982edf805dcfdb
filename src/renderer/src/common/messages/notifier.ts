// Says "a message came" while the page is hidden or not focused: through the shell's own notification when
// the desktop UI runs in the Salita window (window.salita.notify), else the browser's Notification API once
// the person allowed it. Where neither exists (the phone page over plain http has no Notification API) or
// permission was refused, it does nothing: a notification is a courtesy, never needed to read a message.
import { isPageInFront } from './page-attention.js';

export type NotifyPermission = 'granted' | 'denied' | 'default' | 'unsupported';

export interface Notice {
  title: string;
  body: string;
}

function browserNotification(): typeof Notification | undefined {
  return typeof window !== 'undefined' && typeof window.Notification === 'function' ? window.Notification : undefined;
}

/** The browser's permission (the shell's notifications need none). */
export function notifyPermission(): NotifyPermission {
  if (typeof window !== 'undefined' && window.salita?.notify) return 'granted';
  const N = browserNotification();
  return N ? (N.permission as NotifyPermission) : 'unsupported';
}

/** Asks once, from a click: the browser refuses to ask without a user gesture. */
export async function askNotifyPermission(): Promise<NotifyPermission> {
  const N = browserNotification();
  if (!N) return notifyPermission();
  try {
    return (await N.requestPermission()) as NotifyPermission;
  } catch {
    return notifyPermission();
  }
}

/** Shows `n` unless the person is looking at the page already. Never throws. */
export function notifyIfAway(n: Notice): void {
  if (isPageInFront()) return;
  try {
    const bridge = window.salita;
    if (bridge?.notify) {
      void bridge.notify(n).catch(() => undefined);
      return;
    }
    const N = browserNotification();
    if (N && N.permission === 'granted') new N(n.title, { body: n.body });
  } catch {
    /* a browser that has the API but refuses here (e.g. needs a service worker): nothing to do */
  }
}
