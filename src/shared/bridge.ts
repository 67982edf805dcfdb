// The one bridge the Electron preload exposes to the desktop UI as `window.salita`. Shared by the preload
// (implements it), the shell (answers its IPC) and the renderer (uses it when present, and must also work
// without it: headless, or in a plain browser).
export interface SalitaBridge {
  /** Marks the Electron host. */
  readonly host: 'electron';
  /** The desktop UI URL with this launch's admin token in its fragment (`http://127.0.0.1:<port>/#admin=<token>`). */
  getAdminUrl(): Promise<string>;
}

export const IPC_GET_ADMIN_URL = 'salita:get-admin-url';

declare global {
  interface Window {
    /** Present only inside the Electron window. */
    salita?: SalitaBridge;
  }
}
