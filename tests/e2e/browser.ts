// Shared by the e2e tests: where Chromium and Electron are, and why a test must be skipped without them.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
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

// Finding the Electron binary is shared with `npm start`.
export { findElectron, hasDisplay } from '../../scripts/find-electron.mjs';

/** Debian's Chromium as every browser test uses it, after checking the UI is built (a missing build fails loudly). */
export async function launchChromium(): Promise<Browser> {
  const missing = missingBuild();
  if (missing) throw new Error(missing);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}
