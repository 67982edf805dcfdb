// The one bridge the Electron preload exposes to the desktop UI as `window.salita`. Shared by the preload
// (implements it), the shell (answers its IPC) and the renderer (uses it when present, and must also work
// without it: headless, or in a plain browser).
export interface SalitaBridge {
  /** Marks the Electron host. */
  readonly host: 'electron';
  /** The desktop UI URL with this launch's admin token in its fragment (`http://127.0.0.1:<port>/#admin=<token>`). */
  getAdminUrl(): Promise<string>;
  /** Shows a system notification from the shell (a message came while the window was hidden or not focused). */
  notify(n: { title: string; body: string }): Promise<void>;
}

export const IPC_GET_ADMIN_URL = 'salita:get-admin-url';
export const IPC_NOTIFY = 'salita:notify';
/** What the shell shows at most: a notification is a line, never a whole message. */
export const NOTIFY_TITLE_MAX = 120;
export const NOTIFY_BODY_MAX = 240;

declare global {
  interface Window {
    /** Present only inside the Electron window. */
    salita?: SalitaBridge;
  }
}
