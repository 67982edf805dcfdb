// Where the Electron binary is, found WITHOUT requiring the electron package (its require() starts a download
// from GitHub). Shared by `npm start` (scripts/start.mjs) and the Electron launch test.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const EXECUTABLE = { darwin: 'Electron.app/Contents/MacOS/Electron', win32: 'electron.exe' };
const HINT =
  'fetch it with `node node_modules/electron/install.js` (needs github.com, which this machine may not reach) or set ELECTRON_OVERRIDE_DIST_PATH to a directory holding an Electron build';

/** @returns {{ path: string } | { why: string }} */
export function findElectron() {
  let pkgDir;
  try {
    pkgDir = dirname(createRequire(join(ROOT, 'package.json')).resolve('electron/package.json'));
  } catch {
    pkgDir = undefined;
  }
  const pathTxt = pkgDir && existsSync(join(pkgDir, 'path.txt')) ? readFileSync(join(pkgDir, 'path.txt'), 'utf8').trim() : undefined;
  const exe = pathTxt || EXECUTABLE[process.platform] || 'electron';
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = join(process.env.ELECTRON_OVERRIDE_DIST_PATH, exe);
    return existsSync(p) ? { path: p } : { why: `ELECTRON_OVERRIDE_DIST_PATH is set but ${p} does not exist` };
  }
  if (!pkgDir) return { why: `Electron binary not installed: the electron package is missing (${HINT})` };
  if (!pathTxt) return { why: `Electron binary not installed (node_modules/electron/path.txt is missing): ${HINT}` };
  const p = join(pkgDir, 'dist', pathTxt);
  return existsSync(p) ? { path: p } : { why: `Electron binary not installed (${p} is missing): ${HINT}` };
}

/** Electron needs a display on Linux (X11 or Wayland); other platforms always have one. */
export function hasDisplay() {
  return process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}
