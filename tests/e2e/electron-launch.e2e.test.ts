// The real Electron app: launches out/main/index.js with a throw-away data dir and checks that its window
// shows the desktop UI with this node's name (admin token handed over, preload loaded, node running).
// Needs an Electron binary and a display; otherwise skipped with the reason.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { _electron, type ElectronApplication } from 'playwright-core';
import { findElectron, hasDisplay, missingBuild, ROOT, WAIT } from './browser.js';

const electron = findElectron();
const skip =
  'why' in electron
    ? electron.why
    : !hasDisplay()
      ? 'no display: Electron needs DISPLAY or WAYLAND_DISPLAY (e.g. run under xvfb-run)'
      : undefined;

let app: ElectronApplication | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'salita-electron-'));

after(async () => {
  await app?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

test('the Electron window shows the desktop UI for this node', { skip }, async () => {
  const missing = missingBuild();
  if (missing) throw new Error(missing);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'ELECTRON_RUN_AS_NODE') env[k] = v;
  app = await _electron.launch({
    executablePath: (electron as { path: string }).path,
    args: [ROOT, `--data-dir=${dataDir}`, '--port=0', '--no-mdns', ...(process.platform === 'linux' ? ['--no-sandbox'] : [])],
    cwd: ROOT,
    env: { ...env, SALITA_LOG_LEVEL: 'error' },
    timeout: WAIT.timeout,
  });
  const win = await app.firstWindow({ timeout: WAIT.timeout });
  const name = (JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as { name: string }).name;
  await win.getByTestId('node-name').filter({ hasText: name }).waitFor(WAIT);
  await win.locator('#conn-status[data-state="live"]').waitFor(WAIT);
  assert.equal(await win.evaluate(() => window.salita?.host), 'electron', 'the preload bridge is there');
  assert.ok(!win.url().includes('#admin='), 'the admin token is not left in the URL');
  // Quitting stops the node cleanly (the tray keeps it alive when only the window closes).
  await app.close();
  app = undefined;
});
