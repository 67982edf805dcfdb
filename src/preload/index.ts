// The Electron preload: one small typed bridge (window.salita). It runs sandboxed, so it is built as
// CommonJS (see electron.vite.config.ts) and uses only the renderer-side `electron` APIs.
import { contextBridge, ipcRenderer } from 'electron';
import { IPC_GET_ADMIN_URL, IPC_NOTIFY, type SalitaBridge } from '../shared/bridge.js';

const bridge: SalitaBridge = {
  host: 'electron',
  getAdminUrl: () => ipcRenderer.invoke(IPC_GET_ADMIN_URL) as Promise<string>,
  notify: (n) => ipcRenderer.invoke(IPC_NOTIFY, { title: String(n.title), body: String(n.body) }) as Promise<void>,
};

contextBridge.exposeInMainWorld('salita', bridge);
