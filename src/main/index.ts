// The thin Electron shell: starts the node (core/), shows its desktop UI in a sandboxed window, keeps a tray
// icon, and stops the node cleanly on quit. No business logic here: everything else lives in core/ and is
// reached by the UI over the node's own admin API.
//
// Switches: --data-dir=<dir> (default: Electron's userData dir, or SALITA_DATA_DIR), --port=<n> (default 6969;
// 0 = any free port), --no-mdns.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, Notification, nativeImage, shell, Tray } from 'electron';
import { IPC_GET_ADMIN_URL, IPC_NOTIFY, NOTIFY_BODY_MAX, NOTIFY_TITLE_MAX } from '../shared/bridge.js';
import { fromBase64Url, toBase64Url } from '../shared/encoding.js';
import { DEFAULT_PORT } from './core/config.js';
import { type SalitaNode, startNode } from './core/node.js';
import { aesGcmBox, type SecretBox, STORAGE_KEY_FILE, WRAPPED_STORAGE_KEY_FILE } from './core/secrets/secret-box.js';
import { writeFileAtomic } from './core/util/atomic-write.js';
import { osKeychain } from './os-keychain.js';

const here = dirname(fileURLToPath(import.meta.url));

let node: SalitaNode | undefined;
let win: BrowserWindow | undefined;
let tray: Tray | undefined;
let quitting = false;
let stopped = false;

function switchValue(name: string): string | undefined {
  return app.commandLine.hasSwitch(name) ? app.commandLine.getSwitchValue(name) : undefined;
}

async function keychainAvailable(): Promise<boolean> {
  if (!(await osKeychain().isAvailable())) return false;
  // On Linux without a keyring Electron falls back to a hard-coded password: no better than the key file.
  return osKeychain().backend() !== 'basic_text';
}

/**
 * The node's SecretBox: a random storage key wrapped by safeStorage (OS keychain), or undefined to let the
 * core use its 0600 key file (no keychain, or this data dir already seals its secrets with the key file).
 */
async function keychainSecretBox(dataDir: string): Promise<SecretBox | undefined> {
  const wrapped = join(dataDir, WRAPPED_STORAGE_KEY_FILE);
  const available = await keychainAvailable();
  if (existsSync(wrapped)) {
    if (!available) {
      throw new Error(
        `${wrapped} is protected by the OS keychain, which is not available now. Unlock or enable the keychain and start Salita again.`,
      );
    }
    const { result, shouldReEncrypt } = await osKeychain().decrypt(readFileSync(wrapped));
    if (shouldReEncrypt) writeFileAtomic(wrapped, await osKeychain().encrypt(result), 0o600);
    return aesGcmBox(fromBase64Url(result), 'os-keychain');
  }
  if (!available || existsSync(join(dataDir, STORAGE_KEY_FILE))) return undefined;
  const key = randomBytes(32);
  writeFileAtomic(wrapped, await osKeychain().encrypt(toBase64Url(key)), 0o600);
  return aesGcmBox(key, 'os-keychain');
}

/** A 16px (32px @2x) filled circle, so the tray needs no image file. */
function trayIcon(): Electron.NativeImage {
  const size = 32;
  const bgra = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - 15.5, y - 15.5);
      const a = Math.max(0, Math.min(1, 14 - d));
      const i = (y * size + x) * 4;
      bgra[i] = 0xce;
      bgra[i + 1] = 0x63;
      bgra[i + 2] = 0x0b;
      bgra[i + 3] = Math.round(a * 255);
    }
  }
  return nativeImage.createFromBitmap(bgra, { width: size, height: size, scaleFactor: 2 });
}

function showWindow(): void {
  if (!node) return;
  if (!win || win.isDestroyed()) createWindow(node);
  if (win!.isMinimized()) win!.restore();
  win!.show();
  win!.focus();
}

function createWindow(n: SalitaNode): void {
  const origin = new URL(n.adminUrl).origin;
  win = new BrowserWindow({
    width: 920,
    height: 780,
    minWidth: 340,
    minHeight: 420,
    title: 'Salita',
    show: false,
    autoHideMenuBar: true,
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win?.show());
  // Closing the window keeps the node running in the tray; "Quit" in the tray ends it.
  win.on('close', (e) => {
    if (!quitting && tray) {
      e.preventDefault();
      win?.hide();
    }
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e, url) => {
    if (new URL(url).origin !== origin) e.preventDefault();
  });
  void win.loadURL(n.adminUrl);
}

function createTray(): void {
  try {
    tray = new Tray(trayIcon());
  } catch (err) {
    console.warn(`salita: no tray icon (${(err as Error).message}); closing the window quits`);
    return;
  }
  tray.setToolTip('Salita');
  tray.setContextMenu(
    Menu.buildFromTemplate([
      { label: 'Show Salita', click: showWindow },
      { type: 'separator' },
      { label: 'Quit', click: () => app.quit() },
    ]),
  );
  tray.on('click', showWindow);
}

async function start(): Promise<void> {
  const dataDir = switchValue('data-dir') || process.env.SALITA_DATA_DIR || app.getPath('userData');
  const portText = switchValue('port');
  const port = portText === undefined || portText === '' ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be a whole number from 0 to 65535, not "${portText}"`);
  mkdirSync(dataDir, { recursive: true });
  const secretBox = await keychainSecretBox(dataDir);
  // The core's startup errors (a lost storage key, a damaged database) reach the dialog below as they are; the
  // same two switches as the headless node are the explicit ways out they name.
  node = await startNode({
    dataDir,
    port,
    mdns: !app.commandLine.hasSwitch('no-mdns'),
    ...(secretBox ? { secretBox } : {}),
    resetSecrets: app.commandLine.hasSwitch('reset-secrets'),
    allowNewDatabase: app.commandLine.hasSwitch('new-database'),
  });
  console.log(`Salita node "${node.identity.name}" on port ${node.port} (data: ${dataDir}, secrets: ${secretBox?.kind ?? 'key-file'})`);

  const origin = new URL(node.adminUrl).origin;
  ipcMain.handle(IPC_GET_ADMIN_URL, (e) => {
    const from = e.senderFrame?.url;
    if (!from || new URL(from).origin !== origin) throw new Error('not available to this page');
    return node!.adminUrl;
  });
  // Only the desktop UI's own page may raise a notification, and only short plain text.
  ipcMain.handle(IPC_NOTIFY, (e, n: unknown) => {
    const from = e.senderFrame?.url;
    if (!from || new URL(from).origin !== origin) throw new Error('not available to this page');
    const { title, body } = (typeof n === 'object' && n !== null ? n : {}) as { title?: unknown; body?: unknown };
    if (typeof title !== 'string' || typeof body !== 'string' || !Notification.isSupported()) return;
    new Notification({ title: title.slice(0, NOTIFY_TITLE_MAX), body: body.slice(0, NOTIFY_BODY_MAX) }).show();
  });
  createTray();
  createWindow(node);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', showWindow);
  app.on('activate', showWindow);
  app.on('window-all-closed', () => {
    if (!tray) app.quit();
  });
  app.on('before-quit', (e) => {
    quitting = true;
    if (node && !stopped) {
      e.preventDefault();
      void node
        .stop()
        .catch((err: Error) => console.error(`salita: error while stopping: ${err.message}`))
        .finally(() => {
          stopped = true;
          app.quit();
        });
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit());
  app
    .whenReady()
    .then(start)
    .catch((err: Error) => {
      dialog.showErrorBox('Salita could not start', err.message);
      app.exit(1);
    });
}
