// Shared by the e2e tests: where Chromium and Electron are, and why a test must be skipped without them.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.SALITA_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** Generous limits for waits: a slow CI machine is fine, a broken feature still fails. */
export const WAIT = { timeout: 30_000 };

/** Undefined when the built renderer exists; else the message to fail with. */
export function missingBuild(): string | undefined {
  const dir = join(ROOT, 'out', 'renderer');
  if (existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'phone.html'))) return undefined;
  return `The UI is not built (${dir} has no index.html/phone.html). Run \`npm run build\` first (\`npm test\` does).`;
}

/**
 * Why the Chromium tests cannot run here, or undefined if they can. Without Chromium they skip on a developer
 * machine, but in CI (which installs it) a missing browser is a failure, not a skip.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `Chromium not found at ${CHROMIUM} (install it: apt-get install -y chromium, or set SALITA_CHROMIUM)`;
  if (process.env.CI) throw new Error(`${why}; CI must run the browser tests.`);
  return why;
}

const EXECUTABLE: Record<string, string> = { darwin: 'Electron.app/Contents/MacOS/Electron', win32: 'electron.exe' };

/** The Electron binary without requiring the electron package (which would try to download it). */
export function findElectron(): { path: string } | { why: string } {
  let pkgDir: string | undefined;
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
  const hint = 'it is downloaded from GitHub, which this machine may not reach; set ELECTRON_OVERRIDE_DIST_PATH to a directory holding an Electron build to run this test';
  if (!pkgDir) return { why: `Electron binary not installed: the electron package is missing (${hint})` };
  if (!pathTxt) return { why: `Electron binary not installed (node_modules/electron/path.txt is missing): ${hint}` };
  const p = join(pkgDir, 'dist', pathTxt);
  return existsSync(p) ? { path: p } : { why: `Electron binary not installed (${p} is missing): ${hint}` };
}

export function hasDisplay(): boolean {
  return process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}
